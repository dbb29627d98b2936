#include "audit/audit_event.hpp"

#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"

#include <boost/json.hpp>

namespace provisiond::audit {

AuditEvent make_audit(std::string_view kind, AuditSubject subject, boost::json::object detail,
                      std::int64_t now) {
    return {crypto::random_uuid(), now, std::string(kind), std::move(subject),
            boost::json::serialize(detail)};
}

boost::json::object to_json(const AuditEvent& e) {
    auto optional = [](const std::string& v) {
        return v.empty() ? boost::json::value(nullptr) : boost::json::value(v);
    };
    boost::system::error_code ec;
    auto detail = boost::json::parse(e.detail, ec);
    return {{"id", e.id},
            {"time", format_iso8601(e.created_at)},
            {"kind", e.kind},
            {"actor", e.subject.actor},
            {"user_id", optional(e.subject.user_id)},
            {"client_id", optional(e.subject.client_id)},
            {"remote", optional(e.subject.remote)},
            {"detail", ec || !detail.is_object() ? boost::json::object() : detail.as_object()}};
}

} // namespace provisiond::audit
