// NotifySystemd against a real Unix datagram socket standing in for the
// service manager's NOTIFY_SOCKET.
#include "platform/systemd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace sluice {
namespace {

// A bound datagram socket at `address` ("/path" or "@abstract").
class FakeManager {
 public:
  explicit FakeManager(const std::string& address) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, address.data(), address.size());
    if (address[0] == '@') un.sun_path[0] = '\0';
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&un),
                  offsetof(sockaddr_un, sun_path) + address.size()) == 0;
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~FakeManager() { close(fd_); }
  bool bound() const { return bound_; }
  std::string Receive() {
    char buf[256];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-notify.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(SystemdNotifyTest, WithoutNotifySocketDoesNothing) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifySystemd("READY=1").ok());
}

TEST_F(SystemdNotifyTest, SendsTheStateToAPathSocket) {
  const std::string path = dir_ + "/notify";
  FakeManager manager(path);
  ASSERT_TRUE(manager.bound());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ASSERT_TRUE(NotifySystemd("READY=1").ok());
  EXPECT_EQ(manager.Receive(), "READY=1");
  ASSERT_TRUE(NotifySystemd("STOPPING=1").ok());
  EXPECT_EQ(manager.Receive(), "STOPPING=1");
}

TEST_F(SystemdNotifyTest, SendsTheStateToAnAbstractSocket) {
  const std::string address = "@sluice-notify-test-" + std::to_string(getpid());
  FakeManager manager(address);
  ASSERT_TRUE(manager.bound());
  setenv("NOTIFY_SOCKET", address.c_str(), 1);
  ASSERT_TRUE(NotifySystemd("READY=1").ok());
  EXPECT_EQ(manager.Receive(), "READY=1");
}

TEST_F(SystemdNotifyTest, SaysWhatIsWrongWithABadAddress) {
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  Status bad = NotifySystemd("READY=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not a Unix socket address"), std::string::npos)
      << bad.message();
  setenv("NOTIFY_SOCKET", (dir_ + "/nobody-listens").c_str(), 1);
  Status unreachable = NotifySystemd("READY=1");
  ASSERT_FALSE(unreachable.ok());
  EXPECT_NE(unreachable.message().find("cannot notify"), std::string::npos)
      << unreachable.message();
}

}  // namespace
}  // namespace sluice
