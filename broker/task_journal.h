#pragma once
// The durable store's file: an append-only journal of what happened to tasks, in
// DIR/journal. A restarted broker replays it to find every task it had acknowledged.
//
// Format: the 8 bytes "SHOALJ1\n", then frames of
//   u32 body length (little-endian) | u32 CRC-32 of the body (zlib's) | body,
// where a body is one kind byte and its payload:
//   1 accepted:  a serialized shoal.v1.Task (as submitted; `attempt` = retries used)
//   2 ended:     a serialized shoal.v1.TaskResult (its `id` set)
//   3 forgotten: the task id (its result expired)
//   4 retried:   a serialized shoal.v1.Task holding only `id` and `attempt` (retries used)
// A frame cut short or failing its CRC with no whole frame anywhere after it is a tail
// torn by a crash, which open() cuts off, keeping the cut bytes in DIR/journal.cut-<time>
// (and reports it). A bad frame with a whole one after it is damage: open() refuses.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/v1/task.pb.h"

namespace shoal::broker {

enum class JournalKind : uint8_t { kAccepted = 1, kEnded = 2, kForgotten = 3, kRetried = 4 };

// One task the journal says is still known, as replayed.
struct JournaledTask {
  shoal::v1::Task task;
  std::optional<shoal::v1::TaskResult> result;  // set once it ended
};

// What open() found.
struct JournalReplay {
  std::vector<JournaledTask> live;  // in order of acceptance
  uint64_t frames = 0;              // frames read
  uint64_t dropped_bytes = 0;       // torn tail cut off
  std::string cut_path;             // where the cut-off bytes were kept (DIR/journal.cut-*)
};

// Frames appended to a string: what a journal and a snapshot both write.
class JournalBuffer {
 public:
  // Called with the buffer whenever it holds more than `threshold` bytes (a rewrite
  // writes them out and clears it); by default the buffer only grows.
  using Spill = std::function<void(std::string&)>;
  JournalBuffer() = default;
  JournalBuffer(size_t threshold, Spill spill) : threshold_(threshold), spill_(std::move(spill)) {}

  // Appends one frame of `kind` whose payload is `payload`.
  void add(JournalKind kind, std::string_view payload);
  // Appends one frame holding `message` serialized (no intermediate copy).
  void add(JournalKind kind, const google::protobuf::MessageLite& message);
  std::string& bytes() { return bytes_; }
  const std::string& bytes() const { return bytes_; }

 private:
  size_t begin(JournalKind kind);  // returns where the body starts
  void end(size_t body);           // fills in length and CRC, spills if due

  std::string bytes_;
  size_t threshold_ = SIZE_MAX;
  Spill spill_;
};

// Owner of DIR/journal. Not thread-safe: the scheduler's thread is its only user.
class TaskJournal {
 public:
  // Creates DIR (and its parents) if missing, takes its lock (kFailedPrecondition "in use" when another
  // process holds it), replays DIR/journal into `replay` and cuts off a torn tail, first
  // copying it to DIR/journal.cut-<time> (replay->cut_path). Refuses (kFailedPrecondition)
  // a journal damaged before its end, leaving it as it is.
  static absl::StatusOr<std::unique_ptr<TaskJournal>> open(const std::string& dir,
                                                           JournalReplay* replay);
  ~TaskJournal();
  TaskJournal(const TaskJournal&) = delete;
  TaskJournal& operator=(const TaskJournal&) = delete;

  // Buffers one frame; nothing is durable before commit(). Past 8 MiB the buffer is
  // written out (not synced) as it fills, so big payloads are copied once, into a
  // buffer that stays small: a crash may then keep more than was committed, never less.
  JournalBuffer& pending() { return pending_; }
  // Writes what is buffered and waits for the disk (fdatasync). After one failure every
  // later call fails: what follows a lost write cannot be trusted.
  absl::Status commit();
  // Replaces the journal with a new file holding what `write_live` appends (one frame
  // per live fact), atomically (rename). Commits what is buffered first.
  absl::Status rewrite(const std::function<void(JournalBuffer&)>& write_live);
  // Bytes in the file (after the last commit or rewrite).
  uint64_t file_bytes() const { return file_bytes_; }
  const std::string& dir() const { return dir_; }

 private:
  TaskJournal(std::string dir, int lock_fd);
  void spill(std::string& bytes);  // writes a full pending buffer out, unsynced
  std::string path() const { return dir_ + "/journal"; }

  std::string dir_;
  int lock_fd_ = -1;
  int fd_ = -1;
  uint64_t file_bytes_ = 0;    // written, spilled included
  uint64_t synced_bytes_ = 0;  // of which fdatasync has seen
  JournalBuffer pending_;
  absl::Status failed_;  // the first failure; sticks
};

}  // namespace shoal::broker
