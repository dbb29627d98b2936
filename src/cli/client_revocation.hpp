#pragma once
// What `clients disable`, `clients block` and `clients delete` take away from a partner. Each runs
// in the caller's transaction and writes the webhook event that reports it in the same one.

#include "storage/unit_of_work.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace provisiond::cli {

/// Disables a client and spends its unused deep links (a partner the operator turned off must
/// not log anyone in with a link it handed out before); announces grant.revoked with reason
/// client_disabled. The number of deep links spent, or nullopt when there is no such client.
Result<std::optional<std::int64_t>> disable_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now);

/// What `clients delete` took from a partner.
struct ClientRemoval {
    std::int64_t families = 0;   ///< token families revoked, with their access and refresh tokens
    std::int64_t users = 0;      ///< the people those families belonged to
    std::int64_t codes = 0;      ///< authorization codes not exchanged yet
    std::int64_t consents = 0;   ///< consents still waiting for approval
    std::int64_t deep_links = 0; ///< deep links not used yet
    std::int64_t keys = 0;       ///< personal API keys the partner had created
};

/// Revokes everything a client holds, disables it (disable_client) and tombstones it: the id
/// stays taken and never authenticates again. nullopt when there is no such live client.
Result<std::optional<ClientRemoval>> delete_client(Repositories& r, const std::string& client_id,
                                                   std::int64_t now);

} // namespace provisiond::cli
