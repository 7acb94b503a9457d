#include "broker/task_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker/config.h"
#include "shoal/internal/name_limits.h"

namespace shoal::broker {
namespace {

constexpr std::string_view kMagic = "SHOALJ1\n";
constexpr size_t kHeader = 8;                 // length + CRC
constexpr size_t kSpillBytes = 8u << 20;      // buffers are written out in pieces of this size

uint32_t crc_of(const char* data, size_t n) {
  return uint32_t(crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(data), n));
}

void put_u32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = char(v >> (8 * i));
}

uint32_t get_u32(const char* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(at[i])) << (8 * i);
  return v;
}

absl::Status errno_status(const char* what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Writes all of `bytes` to `fd` (retrying short writes and EINTR).
absl::Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("cannot write", path);
    bytes.remove_prefix(size_t(n));
  }
  return absl::OkStatus();
}

// Makes the entries of `dir` durable; one this user may not read is skipped if
// `unreadable_ok` (it cannot be opened to sync).
absl::Status sync_dir(const std::string& dir, bool unreadable_ok = false) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && unreadable_ok && errno == EACCES) return absl::OkStatus();
  if (fd < 0) return errno_status("cannot open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : errno_status("cannot sync", dir);
}

// A read-only view of a journal file, for looking for whole frames after a bad one.
class MappedFile {
 public:
  MappedFile(int fd, uint64_t size) : size_(size) {
    if (size == 0) return;
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) data_ = static_cast<const char*>(p);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  // The file's bytes, or nullptr if it could not be mapped.
  const char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  uint64_t size_;
};

// No frame the broker writes is longer (a task or result within the largest frame) nor
// starts with a kind byte of 0.
constexpr uint64_t kMaxFrameBody = max_frame_bytes(kMaxMessageBytesLimit) + 1;

// Whether the `length` bytes at `body` start as a frame this broker writes: a Task or
// TaskResult, whose first field is its id (tag 0x0a), or a forgotten id. Checked before a
// candidate's CRC when looking past a bad frame: random bytes (a torn frame's arguments)
// then rarely cost a CRC of up to a frame's length.
bool plausible_body(const char* body, uint64_t length) {
  switch (JournalKind(body[0])) {
    case JournalKind::kAccepted:
    case JournalKind::kEnded:
    case JournalKind::kRetried:
      return length >= 3 && body[1] == 0x0a;
    case JournalKind::kForgotten:
      return length >= 2 && length <= internal::kMaxTaskIdBytes + 1;
  }
  return false;
}
// What looking for whole frames after a bad one may check in all (CRC), so that a damaged
// journal of any size is judged in seconds: beyond it, the journal is taken as damaged.
constexpr uint64_t kScanBudget = 16ull << 30;

// Whether a whole frame (plausible length within the file, its CRC right) starts at
// `at`; the bytes checked are taken from `*budget`. With `known_kinds`, only a frame
// that starts as this broker's do (plausible_body) is checked.
bool whole_frame_at(const MappedFile& file, uint64_t at, uint64_t* budget, bool known_kinds) {
  const uint64_t size = file.size();
  if (at + kHeader + 1 > size) return false;
  const char* p = file.data() + at;
  const uint32_t length = get_u32(p);
  if (length == 0 || length > kMaxFrameBody || length > size - at - kHeader ||
      p[kHeader] == 0 || length > *budget ||
      (known_kinds && !plausible_body(p + kHeader, length))) {
    return false;
  }
  *budget -= length;
  return crc_of(p + kHeader, length) == get_u32(p + 4);
}

// What the search for a whole frame after a bad one found.
struct FrameAfter {
  std::optional<uint64_t> at;  // where a whole frame starts
  bool gave_up = false;        // the budget ran out: not known
};

// Whether what follows a candidate frame ending at `end` could be the journal going on:
// its end, or a header whose length and kind byte a broker could have written (the next
// frame may be torn, so its length is not checked against the file). A cheap filter that
// keeps random bytes (a torn frame's arguments) from costing CRCs.
bool plausible_next(const MappedFile& file, uint64_t end) {
  if (end == file.size()) return true;
  if (end + kHeader + 1 > file.size()) return false;
  const uint32_t length = get_u32(file.data() + end);
  const uint8_t kind = uint8_t(file.data()[end + kHeader]);
  return length != 0 && length <= kMaxFrameBody && kind >= 1 && kind <= 4;
}

// Where a whole frame starts after the bad one at `bad`. A write cut short by a crash
// leaves no whole frame after its first bad one; damage within the file does. Looked for
// where the bad frame's length points, then byte by byte to the end of the file (its
// length itself may be what is damaged, and a frame may be of any size).
//
// A bad frame whose length a broker could have written but which runs past the end is
// most likely a write cut short, and all after its header its body: a whole frame there
// (within a task's arguments) counts only if whole frames run from it to the very end of
// the file, as they do after damage to a length.
FrameAfter whole_frame_after(const MappedFile& file, uint64_t bad) {
  uint64_t budget = kScanBudget;
  const uint64_t size = file.size();
  const uint32_t length = bad + kHeader <= size ? get_u32(file.data() + bad) : 0;
  const bool cut_short = length != 0 && length <= kMaxFrameBody && bad + kHeader + length > size;
  if (length != 0 && whole_frame_at(file, bad + kHeader + length, &budget, /*known_kinds=*/false)) {
    return {bad + kHeader + length};
  }
  auto whole_to_end = [&](uint64_t at) {
    while (at < size) {
      if (budget < kMaxFrameBody || !whole_frame_at(file, at, &budget, /*known_kinds=*/false)) {
        return false;
      }
      at += kHeader + get_u32(file.data() + at);
    }
    return true;
  };
  for (uint64_t at = bad + 1; at + kHeader < size; ++at) {
    const uint64_t end = at + kHeader + get_u32(file.data() + at);
    if (!plausible_next(file, end)) continue;
    if (budget < kMaxFrameBody) return {std::nullopt, /*gave_up=*/true};
    if (whole_frame_at(file, at, &budget, /*known_kinds=*/true) &&
        (!cut_short || whole_to_end(end))) {
      return {at};
    }
  }
  return {};
}

// Reads `path` frame by frame into `replay`; returns the length of its good prefix,
// which is the whole file but for a tail torn by a crash. A journal damaged elsewhere
// is refused (FailedPrecondition) and left as it is: cutting it there would silently
// drop acknowledged tasks after the damage.
absl::StatusOr<uint64_t> replay_file(const std::string& path, JournalReplay* replay) {
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) return errno_status("cannot open", path);
  struct stat st {};
  fstat(fileno(f), &st);
  uint64_t size = uint64_t(st.st_size);
  char magic[kMagic.size()];
  size_t got = std::fread(magic, 1, sizeof magic, f);
  if (got != sizeof magic || std::string_view(magic, sizeof magic) != kMagic) {
    std::fclose(f);
    // Created but never (or not wholly) written: a crash at the very start. Start afresh.
    if (size < kMagic.size() && kMagic.substr(0, got) == std::string_view(magic, got)) return 0;
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a Shoal journal (it does not start with SHOALJ1)"));
  }
  std::vector<JournaledTask> tasks;
  std::vector<bool> alive;
  absl::flat_hash_map<std::string, size_t> index;
  uint64_t good = kMagic.size();
  std::string body;
  char header[kHeader];
  while (good + kHeader <= size && std::fread(header, 1, kHeader, f) == kHeader) {
    uint32_t length = get_u32(header);
    if (length == 0 || length > size - good - kHeader) break;  // cut short or garbage
    body.resize(length);
    if (std::fread(body.data(), 1, length, f) != length) break;
    if (crc_of(body.data(), length) != get_u32(header + 4)) break;
    std::string_view payload(body.data() + 1, length - 1);
    bool parsed = true;
    switch (JournalKind(body[0])) {
      case JournalKind::kAccepted: {
        shoal::v1::Task task;
        parsed = task.ParseFromArray(payload.data(), int(payload.size())) && !task.id().empty();
        if (!parsed) break;
        auto [it, inserted] = index.try_emplace(task.id(), tasks.size());
        if (!inserted) alive[it->second] = false;  // cannot happen; the newest wins
        it->second = tasks.size();
        tasks.push_back({std::move(task), std::nullopt});
        alive.push_back(true);
        break;
      }
      case JournalKind::kEnded: {
        shoal::v1::TaskResult result;
        parsed = result.ParseFromArray(payload.data(), int(payload.size()));
        if (!parsed) break;
        if (auto it = index.find(result.id()); it != index.end()) {
          // An ended task is not run again: its arguments would only hold memory.
          std::string().swap(*tasks[it->second].task.mutable_args());
          tasks[it->second].result = std::move(result);
        }
        break;
      }
      case JournalKind::kRetried: {
        shoal::v1::Task retried;
        parsed = retried.ParseFromArray(payload.data(), int(payload.size()));
        if (!parsed) break;
        if (auto it = index.find(retried.id()); it != index.end()) {
          tasks[it->second].task.set_attempt(retried.attempt());
        }
        break;
      }
      case JournalKind::kForgotten:
        if (auto it = index.find(absl::string_view(payload.data(), payload.size()));
            it != index.end()) {
          alive[it->second] = false;
          tasks[it->second] = JournaledTask();  // releases what it held
          index.erase(it);
        }
        break;
      default:
        parsed = false;
    }
    if (!parsed) break;  // a frame we wrote always parses: treat it as corruption
    good += kHeader + length;
    ++replay->frames;
  }
  // The loop stopped at a frame it could not read: whole (its CRC right, so no torn
  // write) but of an unknown kind or unparsable, or bad with whole frames after it (or
  // too much to look through to tell).
  bool whole_but_unread = false;
  FrameAfter next;
  if (good < size) {
    MappedFile file(fileno(f), size);
    if (file.data() == nullptr) {
      std::fclose(f);
      return errno_status("cannot map", path);
    }
    uint64_t budget = kScanBudget;
    whole_but_unread = whole_frame_at(file, good, &budget, /*known_kinds=*/false);
    if (!whole_but_unread) next = whole_frame_after(file, good);
  }
  std::fclose(f);
  if (whole_but_unread || next.at || next.gave_up) {
    std::string why =
        whole_but_unread ? " (a whole frame this broker cannot read: written by a newer version?)"
        : next.at ? absl::StrCat(" (a whole frame follows at byte ", *next.at,
                                 ", so it is not a write cut short by a crash)")
                  : absl::StrCat(" (after checking ", kScanBudget >> 30,
                                 " GiB for whole frames after it, it cannot be told from a "
                                 "write cut short by a crash)");
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is damaged at byte ", good, " of ", size, why,
        "; it is left as it is. Move it aside to start with an empty store, or keep what "
        "precedes the damage with `truncate -s ",
        good, "` on it"));
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (alive[i]) replay->live.push_back(std::move(tasks[i]));
  }
  replay->dropped_bytes = size - good;
  return good;
}

// Copies the bytes of `fd` from `from` to its end into a new file DIR/journal.cut-<time>
// (made durable), so that cutting a tail never destroys what it held; returns its path.
absl::StatusOr<std::string> keep_cut_bytes(int fd, uint64_t from, uint64_t size,
                                           const std::string& dir) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm {};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string path;
  int out = -1;
  for (int n = 0; out < 0; ++n) {  // a name not taken yet
    path = absl::StrCat(dir, "/journal.cut-", stamp, n == 0 ? "" : absl::StrCat("-", n));
    out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0 && (errno != EEXIST || n > 1000)) return errno_status("cannot create", path);
  }
  absl::Status s;
  std::string chunk;
  for (uint64_t at = from; s.ok() && at < size;) {
    chunk.resize(std::min<uint64_t>(size - at, 1u << 20));
    ssize_t n = ::pread(fd, chunk.data(), chunk.size(), off_t(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      s = n < 0 ? errno_status("cannot read", dir + "/journal")
                : absl::UnavailableError(absl::StrCat(dir, "/journal shrank while read"));
      break;
    }
    s = write_all(out, std::string_view(chunk.data(), size_t(n)), path);
    at += uint64_t(n);
  }
  if (s.ok() && ::fsync(out) != 0) s = errno_status("cannot sync", path);
  ::close(out);
  if (s.ok()) s = sync_dir(dir);
  if (!s.ok()) return s;
  return path;
}

}  // namespace

size_t JournalBuffer::begin(JournalKind kind) {
  bytes_.append(kHeader, '\0');
  size_t body = bytes_.size();
  bytes_.push_back(char(kind));
  return body;
}

void JournalBuffer::end(size_t body) {
  size_t length = bytes_.size() - body;
  put_u32(bytes_.data() + body - kHeader, uint32_t(length));
  put_u32(bytes_.data() + body - kHeader + 4, crc_of(bytes_.data() + body, length));
  if (bytes_.size() > threshold_ && spill_) spill_(bytes_);
}

void JournalBuffer::add(JournalKind kind, std::string_view payload) {
  size_t body = begin(kind);
  bytes_.append(payload);
  end(body);
}

void JournalBuffer::add(JournalKind kind, const google::protobuf::MessageLite& message) {
  size_t body = begin(kind);
  message.AppendToString(&bytes_);
  end(body);
}

absl::StatusOr<std::unique_ptr<TaskJournal>> TaskJournal::open(const std::string& dir,
                                                               JournalReplay* replay) {
  std::error_code error;  // parents like mkdir -p; the store itself private to its owner
  std::filesystem::path store(dir);
  if (!store.has_filename()) store = store.parent_path();  // "a/store/" names "a/store"
  std::filesystem::path parent = store.parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  bool made = !error && ::mkdir(dir.c_str(), 0700) == 0;
  if (error || (!made && errno != EEXIST)) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ",
                                               error ? error.message() : std::strerror(errno)));
  }
  std::string lock_path = dir + "/lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return errno_status("cannot open", lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("the store ", dir, " is in use by another broker"));
  }
  std::unique_ptr<TaskJournal> journal(new TaskJournal(dir, lock_fd));
  std::string path = journal->path();
  journal->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (journal->fd_ < 0) return errno_status("cannot open", path);
  auto good = replay_file(path, replay);
  if (!good.ok()) return good.status();
  if (*good == 0) {  // new: write the magic
    if (::ftruncate(journal->fd_, 0) != 0) return errno_status("cannot truncate", path);
    if (auto s = write_all(journal->fd_, kMagic, path); !s.ok()) return s;
    if (::fdatasync(journal->fd_) != 0) return errno_status("cannot sync", path);
    if (auto s = sync_dir(dir); !s.ok()) return s;
    // A store just made: its name in its parent must outlive a power loss too. A parent
    // this user may write but not read cannot be synced; the store works without.
    if (made) {
      std::string above = parent.empty() ? "." : parent.string();
      if (auto s = sync_dir(above, /*unreadable_ok=*/true); !s.ok()) return s;
    }
    journal->file_bytes_ = kMagic.size();
    journal->synced_bytes_ = journal->file_bytes_;
  } else {
    if (replay->dropped_bytes > 0) {
      auto kept = keep_cut_bytes(journal->fd_, *good, *good + replay->dropped_bytes, dir);
      if (!kept.ok()) return kept.status();  // nothing cut: the journal is as it was
      replay->cut_path = *std::move(kept);
      if (::ftruncate(journal->fd_, off_t(*good)) != 0) {
        return errno_status("cannot truncate", path);
      }
    }
    journal->file_bytes_ = *good;
    journal->synced_bytes_ = journal->file_bytes_;
  }
  if (::lseek(journal->fd_, off_t(journal->file_bytes_), SEEK_SET) < 0) {
    return errno_status("cannot seek", path);
  }
  return journal;
}

TaskJournal::TaskJournal(std::string dir, int lock_fd)
    : dir_(std::move(dir)),
      lock_fd_(lock_fd),
      pending_(kSpillBytes, [this](std::string& bytes) { spill(bytes); }) {}

void TaskJournal::spill(std::string& bytes) {
  if (failed_.ok()) {
    failed_ = write_all(fd_, bytes, path());  // a failure shows at the next commit
    if (failed_.ok()) file_bytes_ += bytes.size();
  }
  bytes.clear();
}

TaskJournal::~TaskJournal() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

absl::Status TaskJournal::commit() {
  if (!failed_.ok()) return failed_;
  std::string& bytes = pending_.bytes();
  if (bytes.empty() && synced_bytes_ == file_bytes_) return absl::OkStatus();
  absl::Status s = write_all(fd_, bytes, path());
  if (s.ok() && ::fdatasync(fd_) != 0) s = errno_status("cannot sync", path());
  if (!s.ok()) {
    failed_ = s;
    return s;
  }
  file_bytes_ += bytes.size();
  synced_bytes_ = file_bytes_;
  bytes.clear();
  if (bytes.capacity() > 4 * kSpillBytes) std::string().swap(bytes);  // after a huge frame
  return absl::OkStatus();
}

absl::Status TaskJournal::rewrite(const std::function<void(JournalBuffer&)>& write_live) {
  if (absl::Status s = commit(); !s.ok()) return s;
  std::string next = path() + ".new";
  int fd = ::open(next.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot create", next);
  absl::Status s = write_all(fd, kMagic, next);
  uint64_t written = kMagic.size();
  JournalBuffer out(kSpillBytes, [&](std::string& bytes) {
    if (s.ok()) s = write_all(fd, bytes, next);
    written += bytes.size();
    bytes.clear();
  });
  write_live(out);
  if (s.ok()) s = write_all(fd, out.bytes(), next);
  written += out.bytes().size();
  if (s.ok() && ::fdatasync(fd) != 0) s = errno_status("cannot sync", next);
  if (s.ok() && ::rename(next.c_str(), path().c_str()) != 0) s = errno_status("cannot rename", next);
  if (!s.ok()) {  // the old journal is intact and still ours
    ::close(fd);
    ::unlink(next.c_str());
    return s;
  }
  ::close(fd_);
  fd_ = fd;  // at its end: later commits append
  s = sync_dir(dir_);
  if (!s.ok()) {
    failed_ = s;
    return s;
  }
  file_bytes_ = written;
  synced_bytes_ = written;
  return absl::OkStatus();
}

}  // namespace shoal::broker
