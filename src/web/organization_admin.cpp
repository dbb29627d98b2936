#include "web/organization_admin.hpp"

#include "web/browser_repository.hpp"

namespace provisiond::web {

Result<bool> is_admin_of(Repositories& r, std::string_view user_id,
                         std::string_view organization_id) {
    ASSIGN_OR_RETURN(auto projects, r.browser().projects_of_user(user_id));
    for (const auto& p : projects) {
        if (p.project.organization_id == organization_id &&
            (p.role == "owner" || p.role == "admin")) {
            return true;
        }
    }
    return false;
}

} // namespace provisiond::web
