// CURVE keys and key files (shared/curve_keys.cc).
#include "shared/curve_keys.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testutil/temp_dir.h"

namespace shoal::internal {
namespace {

class CurveKeysTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  testutil::TempDir temp_{"shoal-curve"};
  const std::string dir_ = temp_.path();
};

TEST_F(CurveKeysTest, APairsSecretKeyGivesItsPublicKey) {
  auto pair = new_curve_key_pair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->public_key.size(), 40u);
  EXPECT_NE(pair->public_key, pair->secret_key);
  auto again = curve_key_pair_of(pair->secret_key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->public_key, pair->public_key);
  EXPECT_NE(new_curve_key_pair()->public_key, pair->public_key);
}

TEST_F(CurveKeysTest, ParsesOnlyFortyCharactersOfZ85NamingTheSource) {
  std::string key = new_curve_key_pair()->public_key;
  EXPECT_EQ(*parse_curve_key("  " + key + "\n", "k"), key);
  EXPECT_FALSE(parse_curve_key(key.substr(1), "k").ok());
  auto bad = parse_curve_key(std::string(39, 'a') + "~", "--broker-public-key");  // '~' is not Z85
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--broker-public-key"), std::string::npos);
}

TEST_F(CurveKeysTest, KeyFilesSkipBlankLinesAndComments) {
  std::string first = new_curve_key_pair()->public_key;
  std::string other = new_curve_key_pair()->public_key;
  // '#' is a Z85 digit, but no key begins with it (the first group would overflow).
  EXPECT_FALSE(parse_curve_key("#" + first.substr(1), "k").ok());
  std::string path = write("keys", "# workers\n\n" + first + "\n  " + other + "  host-7\n");
  auto keys = read_curve_keys(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(*keys, (std::vector<std::string>{first, other}));
  EXPECT_FALSE(read_curve_key(path).ok());  // two keys where one is expected

  auto broken = read_curve_keys(write("broken", other + "\nnot-a-key\n"));
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(read_curve_keys(dir_ + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CurveKeysTest, AKeyOrItsFile) {
  std::string key = new_curve_key_pair()->public_key;
  EXPECT_EQ(*curve_key_or_file(key, "k"), key);
  EXPECT_EQ(*curve_key_or_file(write("k.pub", key + "\n"), "k"), key);
  EXPECT_FALSE(curve_key_or_file(dir_ + "/missing", "k").ok());
}

// Before: a key file's path of exactly 40 characters, all Z85 (as /tmp/shoal-units-
// i4jbcha9/etc/broker.pub is), was taken for the key itself, and the worker failed every
// CURVE handshake with the broker.
TEST_F(CurveKeysTest, AFilesPathThatReadsAsAKeyIsTheFile) {
  std::string key = new_curve_key_pair()->public_key;
  std::string path = dir_ + "/";
  path += std::string(40 - path.size() - 4, 'k') + ".pub";
  ASSERT_EQ(path.size(), 40u);
  ASSERT_TRUE(parse_curve_key(path, "path").ok()) << "the path must read as a key";
  write(path.substr(dir_.size() + 1), key + "\n");
  EXPECT_EQ(*curve_key_or_file(path, "k"), key);
}

TEST_F(CurveKeysTest, WritesASecretFileOnlyItsOwnerReadsAndNeverOverwrites) {
  auto pair = new_curve_key_pair();
  std::string path = dir_ + "/broker";
  ASSERT_TRUE(write_curve_key_pair(path, *pair).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_curve_key_pair(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->public_key, pair->public_key);
  EXPECT_EQ(*read_curve_key(path + ".pub"), pair->public_key);
  EXPECT_FALSE(write_curve_key_pair(path, *new_curve_key_pair()).ok());
  EXPECT_EQ(read_curve_key_pair(path)->secret_key, pair->secret_key);
}

// A failed write leaves nothing new: the secret key was written before the public one
// failed on an existing PATH.pub, and stayed.
TEST_F(CurveKeysTest, AnExistingPublicKeyFileLeavesNoSecretKeyBehind) {
  std::string path = dir_ + "/worker";
  write("worker.pub", "stale\n");
  absl::Status s = write_curve_key_pair(path, *new_curve_key_pair());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("worker.pub"), std::string::npos) << s;
  struct stat st {};
  EXPECT_NE(stat(path.c_str(), &st), 0) << "a secret key was left behind";
  std::ifstream pub(path + ".pub");
  std::string line;
  std::getline(pub, line);
  EXPECT_EQ(line, "stale");
}

}  // namespace
}  // namespace shoal::internal
