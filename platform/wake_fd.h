// WakeFd: a file descriptor another thread makes readable to wake a thread
// that sleeps in poll() (or zmq_poll(), as a raw descriptor item). Linux
// eventfd: Signal() adds one to its counter, Drain() reads it back to zero.
// Several Signal()s before a Drain() make one wake-up.
//
// Thread-safety: Signal() from any thread; Drain() and fd() from the thread
// that polls.
#pragma once

namespace sluice {

class WakeFd {
 public:
  // Without an eventfd (the kernel refused one: no descriptor left) ok()
  // is false, fd() is -1 (poll() ignores it) and Signal() does nothing:
  // the caller must then poll with a short timeout.
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Signal();
  void Drain();

 private:
  int fd_;
};

}  // namespace sluice
