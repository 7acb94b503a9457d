#pragma once
// A TaskStore that survives a crash of the broker: records live in memory as in the
// default store, and every acceptance, ending and expiry is appended to a journal on
// disk (task_journal.h), made durable by commit() before the broker acknowledges it.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "broker/task_journal.h"
#include "broker/task_store.h"

namespace shoal::broker {

class DurableTaskStore final : public TaskStore {
 public:
  // Opens (or creates) the store in `dir` and fills `replay` with the tasks it kept;
  // the caller restores them (Scheduler::restore) and then rewrites the store.
  static absl::StatusOr<std::unique_ptr<DurableTaskStore>> open(const std::string& dir,
                                                                JournalReplay* replay);

  TaskRef insert(std::string id) override { return memory_.insert(std::move(id)); }
  bool find(std::string_view id, TaskRef* ref) const override { return memory_.find(id, ref); }
  bool matches(TaskRef ref, std::string_view id) const override {
    return memory_.matches(ref, id);
  }
  TaskRecord& get(TaskRef ref) override { return memory_.get(ref); }
  const TaskRecord& get(TaskRef ref) const override { return memory_.get(ref); }
  // Journals that the task is forgotten, then destroys its record.
  void erase(TaskRef ref) override;
  size_t size() const override { return memory_.size(); }
  void for_each(const std::function<void(TaskRef)>& fn) const override { memory_.for_each(fn); }

  bool durable() const override { return true; }
  uint64_t stored_bytes() const override { return journal_->file_bytes(); }
  void accepted(const shoal::v1::Task& task) override;
  void ended(const shoal::v1::TaskResult& result) override;
  void retried(const std::string& id, uint32_t attempt) override;
  absl::Status commit() override { return journal_->commit(); }
  // Once the journal is both 64 MiB and four times what the last rewrite left.
  bool wants_rewrite() const override;
  absl::Status rewrite(const std::function<void(const LiveTaskSink&)>& write_live) override;

 private:
  explicit DurableTaskStore(std::unique_ptr<TaskJournal> journal)
      : journal_(std::move(journal)) {}

  static constexpr uint64_t kMinRewriteBytes = 64u << 20;

  InMemoryTaskStore memory_;
  std::unique_ptr<TaskJournal> journal_;
  uint64_t rewritten_bytes_ = 0;  // file size after the last rewrite (or attempt)
};

}  // namespace shoal::broker
