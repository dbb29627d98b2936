#include "app/probes.hpp"

namespace provisiond::app {

http::Response health_probe() {
    return http::json_response(200, R"({"status":"ok"})");
}

http::Response ready_probe(UnitOfWork& uow) {
    return uow.ping()
               ? http::json_response(200, R"({"status":"ready"})")
               : http::json_response(
                     503,
                     R"({"status":"unavailable","error":{"code":"storage_unavailable","message":"The database does not answer"}})");
}

} // namespace provisiond::app
