#include "cli/client_revocation.hpp"

#include "audit/audit_event.hpp"
#include "webhooks/event.hpp"

#include <set>

namespace provisiond::cli {

Result<std::optional<std::int64_t>> disable_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now) {
    auto changed = r.clients().set_active(client_id, false, now);
    if (!changed) {
        return changed.error();
    }
    if (!*changed) {
        return std::optional<std::int64_t>{};
    }
    auto retired = r.browser().retire_deep_links_of_client(client_id, now);
    if (!retired) {
        return retired.error();
    }
    // Every user's grant to this partner stops working (no user_id: all of them).
    boost::json::object data{{"client_id", client_id},
                             {"user_id", nullptr},
                             {"reason", webhooks::revoke_reason::client_disabled}};
    RETURN_IF_ERROR(
        r.webhooks().enqueue(webhooks::make_event("grant.revoked", std::move(data), now)));
    RETURN_IF_ERROR(r.audit().record(
        audit::make_audit("partner.disabled", {"operator", "", client_id, ""}, {}, now)));
    return std::optional<std::int64_t>{*retired};
}

Result<std::optional<ClientRemoval>> delete_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now) {
    auto found = r.clients().find(client_id);
    if (!found) {
        return found.error();
    }
    if (!*found || (*found)->deleted_at) {
        return std::optional<ClientRemoval>{};
    }
    ClientRemoval removal;
    // Disabling alone stops the tokens (bearer checks the client), but a disabled client can be
    // enabled again; a deleted one's grants are revoked for good, row by row.
    auto families = r.grants().live_families_of_client(client_id);
    if (!families) {
        return families.error();
    }
    std::set<std::string> users;
    for (const auto& family : *families) {
        RETURN_IF_ERROR(
            r.grants().revoke_family(family.id, webhooks::revoke_reason::client_disabled, now));
        users.insert(family.user_id);
    }
    removal.families = static_cast<std::int64_t>(families->size());
    removal.users = static_cast<std::int64_t>(users.size());
    auto codes = r.grants().expire_unused_codes_of_client(client_id, now);
    if (!codes) {
        return codes.error();
    }
    removal.codes = *codes;
    auto consents = r.browser().withdraw_consents_of_client(client_id);
    if (!consents) {
        return consents.error();
    }
    removal.consents = *consents;
    auto keys = r.browser().revoke_keys_of_client(client_id, now);
    if (!keys) {
        return keys.error();
    }
    removal.keys = *keys;
    auto deep_links = disable_client(r, client_id, now);
    if (!deep_links) {
        return deep_links.error();
    }
    removal.deep_links = deep_links->value_or(0);
    auto deleted = r.clients().mark_deleted(client_id, now);
    if (!deleted) {
        return deleted.error();
    }
    return std::optional<ClientRemoval>{removal};
}

} // namespace provisiond::cli
