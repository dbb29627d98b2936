// app::notify_ready / notify_stopping against a real datagram socket named by NOTIFY_SOCKET, as
// systemd makes one for a Type=notify unit. tests/package/run.sh checks the timing end to end.
#include "app/systemd_notify.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace provisiond;

namespace {

/// A bound AF_UNIX datagram socket, exported as NOTIFY_SOCKET while it lives.
class NotifySocket {
public:
    NotifySocket() {
        path_ = testing::TempDir() + "notify-" + std::to_string(::getpid());
        ::unlink(path_.c_str());
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
        bound_ =
            fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
        ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    bool bound() const { return bound_; }
    /// The next datagram, or "" when none waits. sd_notify's sendmsg has queued the datagram on
    /// this socket by the time it returns, so nothing here needs to wait.
    std::string next() {
        char buffer[4096];
        ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    }

private:
    std::string path_;
    int fd_ = -1;
    bool bound_ = false;
};

} // namespace

TEST(SystemdNotify, ReadySendsReadyAndTheStatusLine) {
    NotifySocket socket;
    ASSERT_TRUE(socket.bound());
    app::notify_ready("listening on 127.0.0.1:8000");
    EXPECT_EQ(socket.next(), "READY=1\nSTATUS=listening on 127.0.0.1:8000");
    EXPECT_EQ(socket.next(), "");
}

TEST(SystemdNotify, StoppingSendsStopping) {
    NotifySocket socket;
    ASSERT_TRUE(socket.bound());
    app::notify_stopping();
    EXPECT_EQ(socket.next(), "STOPPING=1\nSTATUS=stopping");
}

TEST(SystemdNotify, WithoutNotifySocketNothingHappens) {
    ::unsetenv("NOTIFY_SOCKET");
    app::notify_ready("listening on 127.0.0.1:8000"); // must neither fail nor block
    app::notify_stopping();
    SUCCEED();
}
