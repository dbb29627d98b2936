#pragma once
// What audit events need from storage (storage/sql_audit_repository.cpp).

#include "audit/audit_event.hpp"
#include "core/error.hpp"

#include <vector>

namespace provisiond::audit {

struct AuditFilter {
    std::int64_t since = 0; ///< created_at >= since
    std::string client_id;  ///< empty: any
    std::string user_id;    ///< empty: any
    std::int64_t limit = 1000;
};

class AuditRepository {
public:
    virtual ~AuditRepository() = default;
    virtual Result<void> record(const AuditEvent& event) = 0;
    /// Newest first.
    virtual Result<std::vector<AuditEvent>> list(const AuditFilter& filter) = 0;
    /// Committed events not yet written to the log, oldest first.
    virtual Result<std::vector<AuditEvent>> unlogged(std::int64_t limit) = 0;
    virtual Result<void> mark_logged(const std::vector<std::string>& ids, std::int64_t now) = 0;
};

} // namespace provisiond::audit
