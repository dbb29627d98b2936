#pragma once
// /_health (the process answers) and /_ready (and its database does), served on the public port
// and on the admin listener alike.

#include "http/message.hpp"
#include "storage/unit_of_work.hpp"

namespace provisiond::app {

http::Response health_probe();
/// 200 when the database answers a trivial query, else 503 storage_unavailable.
http::Response ready_probe(UnitOfWork& uow);

} // namespace provisiond::app
