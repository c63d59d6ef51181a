#include "agent/grpc/finisher.h"

namespace sluice {

Finisher::Finisher() : thread_([this] { Loop(); }) {}

Finisher::~Finisher() { Stop(); }

void Finisher::Add(grpc::ServerUnaryReactor* call, grpc::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) {
    lock.unlock();
    call->Finish(std::move(status));
    return;
  }
  queue_.emplace_back(call, std::move(status));
  const bool wake = idle_;
  idle_ = false;
  lock.unlock();
  if (wake) wake_.notify_one();
}

void Finisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Finisher::Loop() {
  std::vector<std::pair<grpc::ServerUnaryReactor*, grpc::Status>> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (queue_.empty() && !stopping_) {
      idle_ = true;
      wake_.wait(lock);
    }
    idle_ = false;
    if (queue_.empty() && stopping_) {
      stopped_ = true;
      return;
    }
    batch.swap(queue_);
    lock.unlock();
    for (auto& [call, status] : batch) call->Finish(std::move(status));
    batch.clear();
    lock.lock();
  }
}

}  // namespace sluice
