#include "cli/client_revocation.hpp"

#include "audit/audit_event.hpp"
#include "webhooks/event.hpp"

#include <set>

namespace provisiond::cli {

Result<std::optional<std::int64_t>> disable_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now) {
    ASSIGN_OR_RETURN(bool changed, r.clients().set_active(client_id, false, now));
    if (!changed) {
        return std::optional<std::int64_t>{};
    }
    ASSIGN_OR_RETURN(std::int64_t retired, r.browser().retire_deep_links_of_client(client_id, now));
    // Every user's grant to this partner stops working (no user_id: all of them).
    boost::json::object data{{"client_id", client_id},
                             {"user_id", nullptr},
                             {"reason", webhooks::revoke_reason::client_disabled}};
    RETURN_IF_ERROR(
        r.webhooks().enqueue(webhooks::make_event("grant.revoked", std::move(data), now)));
    RETURN_IF_ERROR(r.audit().record(
        audit::make_audit("partner.disabled", {"operator", "", client_id, ""}, {}, now)));
    return std::optional<std::int64_t>{retired};
}

Result<std::optional<ClientRemoval>> delete_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now) {
    ASSIGN_OR_RETURN(auto found, r.clients().find(client_id));
    if (!found || found->deleted_at) {
        return std::optional<ClientRemoval>{};
    }
    ClientRemoval removal;
    // Disabling alone stops the tokens (bearer checks the client), but a disabled client can be
    // enabled again; a deleted one's grants are revoked for good, row by row.
    ASSIGN_OR_RETURN(auto families, r.grants().live_families_of_client(client_id));
    std::set<std::string> users;
    for (const auto& family : families) {
        RETURN_IF_ERROR(
            r.grants().revoke_family(family.id, webhooks::revoke_reason::client_disabled, now));
        users.insert(family.user_id);
    }
    removal.families = static_cast<std::int64_t>(families.size());
    removal.users = static_cast<std::int64_t>(users.size());
    ASSIGN_OR_RETURN(removal.codes, r.grants().expire_unused_codes_of_client(client_id, now));
    ASSIGN_OR_RETURN(removal.consents, r.browser().withdraw_consents_of_client(client_id));
    ASSIGN_OR_RETURN(removal.keys, r.browser().revoke_keys_of_client(client_id, now));
    ASSIGN_OR_RETURN(auto deep_links, disable_client(r, client_id, now));
    removal.deep_links = deep_links.value_or(0);
    RETURN_IF_ERROR(r.clients().mark_deleted(client_id, now));
    return std::optional<ClientRemoval>{removal};
}

} // namespace provisiond::cli
