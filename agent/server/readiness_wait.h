// ReadinessWait: waits until a socket may be read, without a system call
// to start waiting.
//
// Why: Boost.Asio (1.74) registers a socket with its epoll once, edge-
// triggered, but starts every wait or read with a system call: an
// async_read_some first tries recv() (which fails with EAGAIN when the
// client waits for its reply, as it does without pipelining) and an
// async_wait re-arms the socket with epoll_ctl(EPOLL_CTL_MOD). Either costs
// one system call per request more than Redis, which reads once per
// readiness event.
//
// How: this operation is queued on the socket's Asio registration as a
// read operation that, tried at once, reports "not done" (no recv(), no
// epoll_ctl); the next readiness edge completes it. That is safe only if
// no edge can pass while nothing waits, so the caller must start a wait
// only after a read that found the socket empty (a recv() that returned
// less than it asked for, or EAGAIN), before the event loop polls again:
// the event loop's own thread, in the same handler as that read.
//
// Builds on Asio's reactor internals (boost::asio::detail), which the
// Debian package pins; on another reactor than epoll it does not compile.
//
// Thread-compatible: the thread that runs the socket's io_context only.
#pragma once

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <utility>

namespace sluice {

// A stream socket whose Asio reactor registration ReadinessWait can use.
class WaitableSocket : public boost::asio::generic::stream_protocol::socket {
 public:
  using Base = boost::asio::generic::stream_protocol::socket;
  explicit WaitableSocket(Base&& socket) : Base(std::move(socket)) {}

  boost::asio::detail::reactor::per_descriptor_data& reactor_data() {
    return impl_.get_implementation().reactor_data_;
  }
};

class ReadinessWait final : private boost::asio::detail::reactor_op {
 public:
  // Called on the event loop: with no error once the socket may be read,
  // with operation_aborted when it closed first.
  using Done = void (*)(void* target, const boost::system::error_code& ec);

  ReadinessWait()
      : reactor_op(boost::system::error_code(), &Perform, &Complete) {}
  ReadinessWait(const ReadinessWait&) = delete;
  ReadinessWait& operator=(const ReadinessWait&) = delete;

  bool pending() const { return pending_; }

  // Starts waiting (see the contract above); at most one wait at a time,
  // and every wait of one object on the same `io`. `keep` (the owner of
  // this object, usually) is held until `done` ran.
  void Start(boost::asio::io_context& io, WaitableSocket* socket,
             std::shared_ptr<void> keep, Done done, void* target) {
    pending_ = true;
    keep_ = std::move(keep);
    done_ = done;
    target_ = target;
    ec_ = boost::system::error_code();
    skip_ = true;  // the try at once: not done
    // Looked up once: Asio's service lookup takes the io_context's
    // registry lock and walks its services.
    if (reactor_ == nullptr) {
      reactor_ = &boost::asio::use_service<boost::asio::detail::reactor>(io);
    }
    reactor_->start_op(boost::asio::detail::reactor::read_op,
                       socket->native_handle(), socket->reactor_data(), this,
                       /*is_continuation=*/false,
                       /*allow_speculative=*/true);
    skip_ = false;  // every later try (a readiness event): done
  }

 private:
  static status Perform(reactor_op* base) {
    ReadinessWait* self = static_cast<ReadinessWait*>(base);
    if (self->skip_) return not_done;
    return done;
  }

  // owner == nullptr: the io_context is destroyed with the wait queued.
  static void Complete(void* owner, boost::asio::detail::operation* base,
                       const boost::system::error_code& /*ec*/,
                       std::size_t /*bytes*/) {
    ReadinessWait* self = static_cast<ReadinessWait*>(base);
    std::shared_ptr<void> keep = std::move(self->keep_);  // may own *self
    self->pending_ = false;
    if (owner != nullptr) self->done_(self->target_, self->ec_);
  }

  boost::asio::detail::reactor* reactor_ = nullptr;  // `io`'s, once known
  bool pending_ = false;
  bool skip_ = false;
  std::shared_ptr<void> keep_;
  Done done_ = nullptr;
  void* target_ = nullptr;
};

}  // namespace sluice
