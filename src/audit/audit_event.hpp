#pragma once
// Audit events, as Keycloak's event store: each security-relevant change writes one row in the
// transaction of the change (so there is never a change without its event, nor an event for a
// change that rolled back), and a background tailer logs committed rows (audit_shipper.hpp).
// `provisiond audit` lists them; maintenance removes them after --audit-retention-days.

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace provisiond::audit {

/// Every kind, as stored and listed.
inline constexpr std::array<std::string_view, 15> kinds = {
    "code.replayed",     "family.revoked",  "login.failed",
    "login.succeeded",   "password.set",    "password.reset_requested",
    "consent.approved",  "consent.denied",  "partner.registered",
    "partner.refreshed", "partner.blocked", "partner.disabled",
    "key.created",       "key.revoked",     "credentials.rotated",
};

/// Who did it and to whom; empty members are stored as NULL.
struct AuditSubject {
    std::string actor;     ///< "user", "partner", "operator" or "system"
    std::string user_id;   ///< the person concerned
    std::string client_id; ///< the partner concerned
    std::string remote;    ///< the client address, when a request caused it
};

struct AuditEvent {
    std::string id;
    std::int64_t created_at = 0;
    std::string kind;
    AuditSubject subject;
    std::string detail; ///< a JSON object: what else there is to know (never a secret)
};

AuditEvent make_audit(std::string_view kind, AuditSubject subject, boost::json::object detail,
                      std::int64_t now);

/// The event as one JSON object (for `provisiond audit --json` and the log line).
boost::json::object to_json(const AuditEvent& event);

} // namespace provisiond::audit
