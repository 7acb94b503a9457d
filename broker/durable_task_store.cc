#include "broker/durable_task_store.h"

#include <algorithm>
#include <utility>

namespace shoal::broker {

absl::StatusOr<std::unique_ptr<DurableTaskStore>> DurableTaskStore::open(const std::string& dir,
                                                                         JournalReplay* replay) {
  auto journal = TaskJournal::open(dir, replay);
  if (!journal.ok()) return journal.status();
  return std::unique_ptr<DurableTaskStore>(new DurableTaskStore(*std::move(journal)));
}

void DurableTaskStore::erase(TaskRef ref) {
  journal_->pending().add(JournalKind::kForgotten, memory_.get(ref).id);
  memory_.erase(ref);
}

void DurableTaskStore::accepted(const shoal::v1::Task& task) {
  journal_->pending().add(JournalKind::kAccepted, task);
}

void DurableTaskStore::ended(const shoal::v1::TaskResult& result) {
  journal_->pending().add(JournalKind::kEnded, result);
}

void DurableTaskStore::retried(const std::string& id, uint32_t attempt) {
  shoal::v1::Task retried;
  retried.set_id(id);
  retried.set_attempt(attempt);
  journal_->pending().add(JournalKind::kRetried, retried);
}

bool DurableTaskStore::wants_rewrite() const {
  return journal_->file_bytes() > std::max(kMinRewriteBytes, 4 * rewritten_bytes_);
}

absl::Status DurableTaskStore::rewrite(const std::function<void(const LiveTaskSink&)>& write_live) {
  absl::Status s = journal_->rewrite([&](JournalBuffer& out) {
    write_live([&](const shoal::v1::Task& task, const shoal::v1::TaskResult* result) {
      out.add(JournalKind::kAccepted, task);
      if (result != nullptr) out.add(JournalKind::kEnded, *result);
    });
  });
  // After a failure too: the next attempt waits until the journal has grown again.
  rewritten_bytes_ = journal_->file_bytes();
  return s;
}

}  // namespace shoal::broker
