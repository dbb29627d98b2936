#pragma once
// Who may manage an organization's settings (its CIMD verification tokens): its owners and admins.

#include "core/unit_of_work.hpp"

#include <string_view>

namespace provisiond::web {

/// True when the user is an owner or admin of the organization.
Result<bool> is_admin_of(Repositories& r, std::string_view user_id,
                         std::string_view organization_id);

} // namespace provisiond::web
