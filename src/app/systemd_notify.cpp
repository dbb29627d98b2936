#include "app/systemd_notify.hpp"

#include <string>
#include <systemd/sd-daemon.h>

namespace provisiond::app {

// sd_notify's result is ignored: it is 0 without NOTIFY_SOCKET, and a failure to reach systemd
// must not stop a server that is otherwise fine (systemd then reports the start as timed out).
// NOTIFY_SOCKET is kept (unset_environment = 0) so that STOPPING=1 can still be sent at the end.

void notify_ready(std::string_view status) {
    std::string message = "READY=1\nSTATUS=";
    message += status;
    (void)sd_notify(0, message.c_str());
}

void notify_stopping() {
    (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

} // namespace provisiond::app
