#pragma once
// How an operator names a person on the command line: by id, or by email address in any
// spelling of it (accounts/email_address.hpp).

#include "storage/unit_of_work.hpp"

#include <optional>
#include <string>

namespace provisiond::cli {

Result<std::optional<accounts::User>> find_user_by_reference(Repositories& r,
                                                             const std::string& reference);

} // namespace provisiond::cli
