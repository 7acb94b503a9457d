// Scheduler, queries: counters (Stats), workers and queues, and the completion rate.
#include <algorithm>
#include <string>
#include <vector>

#include "broker/scheduler.h"

namespace shoal::broker {

void Scheduler::count_completion() {
  int64_t second = clock_->now_ms() / 1000;
  int b = int(second % kRateBuckets);
  if (rate_second_[b] != second) {
    rate_second_[b] = second;
    rate_count_[b] = 0;
  }
  ++rate_count_[b];
}

shoal::v1::Stats Scheduler::stats() const {
  int64_t now = clock_->now_ms();
  shoal::v1::Stats stats;
  stats.set_max_message_bytes(options_.max_message_bytes);
  stats.set_max_queued(options_.max_queued);
  stats.set_task_bytes(task_bytes_);
  stats.set_max_task_bytes(options_.max_task_bytes);
  stats.set_sessions(static_cast<uint32_t>(sessions_.size()));
  stats.set_submitted(submitted_);
  stats.set_completed(completed_);
  stats.set_failed(failed_);
  stats.set_retried(retried_);
  stats.set_queued(queued_);
  stats.set_running(running_);
  stats.set_workers(uint32_t(workers_.size()));
  stats.set_bad_client_messages(bad_client_messages_);
  stats.set_bad_worker_frames(bad_worker_results_);
  stats.set_results_retained(retained_);
  stats.set_uptime_ms(uint64_t(now - start_ms_));
  // Completions in the last five seconds (the current one included).
  constexpr int kWindow = 5;
  int64_t second = now / 1000;
  uint64_t count = 0;
  for (int b = 0; b < kRateBuckets; ++b) {
    if (rate_second_[b] > second - kWindow) count += rate_count_[b];
  }
  int64_t from = std::max(start_ms_, (second - kWindow + 1) * 1000);
  stats.set_tasks_per_second(now > from ? double(count) * 1000.0 / double(now - from) : 0.0);
  return stats;
}

shoal::v1::ListWorkersResponse Scheduler::list_workers() const {
  int64_t now = clock_->now_ms();
  shoal::v1::ListWorkersResponse response;
  for (WorkerRef w : workers_.live()) {
    const WorkerState& st = workers_.get(w);
    shoal::v1::WorkerInfo* info = response.add_workers();
    info->set_name(st.name);
    info->set_host(st.host);
    info->set_pid(st.pid);
    for (NameId q : st.queues) info->add_queues(names_.name(q));
    info->set_slots(st.slots);
    info->set_credit(st.credit);
    info->set_running(uint32_t(st.leased.size()));
    info->set_last_seen_ms(uint64_t(std::max<int64_t>(0, now - st.last_seen_ms)));
    info->set_draining(st.draining);
    std::vector<std::string> tasks;
    for (NameId t : st.tasks) tasks.push_back(names_.name(t));
    std::sort(tasks.begin(), tasks.end());
    for (std::string& t : tasks) info->add_tasks(std::move(t));
  }
  return response;
}

std::size_t Scheduler::queue_entries(std::string_view queue) const {
  NameId name;
  if (!names_.find(queue, &name)) return 0;
  auto it = queues_.find(name);
  return it == queues_.end() ? 0 : it->second->entries();
}

shoal::v1::ListQueuesResponse Scheduler::list_queues() const {
  std::vector<const TaskQueue*> queues;
  for (const auto& [name, q] : queues_) queues.push_back(q.get());
  std::sort(queues.begin(), queues.end(), [&](const TaskQueue* a, const TaskQueue* b) {
    return names_.name(a->name()) < names_.name(b->name());
  });
  shoal::v1::ListQueuesResponse response;
  for (const TaskQueue* q : queues) {
    shoal::v1::QueueInfo* info = response.add_queues();
    info->set_name(names_.name(q->name()));
    info->set_depth(q->depth);
    info->set_in_flight(q->in_flight);
    info->set_workers(uint32_t(q->workers.size()));
  }
  return response;
}

}  // namespace shoal::broker
