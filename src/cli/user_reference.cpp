#include "cli/user_reference.hpp"

#include "accounts/email_address.hpp"

namespace provisiond::cli {

Result<std::optional<accounts::User>> find_user_by_reference(Repositories& r,
                                                             const std::string& reference) {
    if (reference.find('@') == std::string::npos) {
        return r.accounts().find_user(reference);
    }
    auto parsed = accounts::parse_email(reference);
    if (!parsed) {
        return std::optional<accounts::User>{};
    }
    return r.accounts().find_user_by_email(parsed->key);
}

} // namespace provisiond::cli
