// Finisher: a thread of its own that completes gRPC calls
// (ServerUnaryReactor::Finish) handed to it. Finish does gRPC's work of
// encoding the answer and writing it to the connection (measured: most of
// a call's cost on the thread that calls it); with a Finisher, the agent's
// event loop only decides, and goes on with the next check. Calls handed
// over while the thread is busy are finished in one go.
//
// Thread-safety: Add() and Stop() from any thread. After Stop(), Add()
// finishes the call on the caller's thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

class Finisher {
 public:
  Finisher();
  ~Finisher();  // Stop()s
  Finisher(const Finisher&) = delete;
  Finisher& operator=(const Finisher&) = delete;

  // Finishes `call` with `status`, soon, on the finisher's thread.
  void Add(grpc::ServerUnaryReactor* call, grpc::Status status);
  // Finishes every call added so far, then ends the thread. Idempotent.
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  // Guarded by mu_.
  std::vector<std::pair<grpc::ServerUnaryReactor*, grpc::Status>> queue_;
  bool idle_ = false;  // the thread waits on wake_
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace sluice
