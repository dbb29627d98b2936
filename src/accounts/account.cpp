#include "accounts/account.hpp"

namespace provisiond::accounts {

std::string_view to_string(Role role) {
    switch (role) {
    case Role::owner:
        return "owner";
    case Role::admin:
        return "admin";
    case Role::member:
        return "member";
    }
    return "member";
}

} // namespace provisiond::accounts
