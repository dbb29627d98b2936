#pragma once
// Tells systemd where the server is in its life (the unit is Type=notify): systemd holds back
// units ordered after provisiond, and `systemctl start` returns, only once READY=1 arrives, so
// "started" means "answering requests", not "process exists". Outside systemd (NOTIFY_SOCKET
// unset) every call does nothing.

#include <string_view>

namespace provisiond::app {

/// READY=1, with `status` (e.g. "listening on 127.0.0.1:8000") shown by `systemctl status`.
/// Call only once the listening socket is bound: connections made after READY=1 then queue in
/// its backlog until the server accepts them, and none is refused.
void notify_ready(std::string_view status);

/// STOPPING=1: the server has stopped accepting and finished its requests; the workers stop next.
void notify_stopping();

} // namespace provisiond::app
