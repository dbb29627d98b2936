#pragma once
// The C++ half of migration 0006_email_identity: the identity key of an email address needs
// libidn2 and libunistring (accounts/email_address.hpp), which SQL cannot call. storage/
// migrations.cpp runs it inside the migration's transaction, right after the SQL file.

#include "storage/connection.hpp"

#include <string>
#include <vector>

namespace provisiond::storage {

/// Recomputes users.email_normalized from users.email with accounts::parse_email, and gives the
/// pending_consents and account_requests rows of each re-keyed user (by user_id) the user's new
/// key. A user whose address does not parse at all keeps the old key (as do its rows); each such
/// user is one warning for the operator, returned.
///
/// When two users would end up with one key (the same mailbox written two ways), nothing is
/// written and the result is an ErrorCode::conflict whose `debug` is the report for the operator:
/// every colliding user's id, address and creation time, and what to do. The caller rolls back.
Result<std::vector<std::string>> rekey_email_identities(Connection& c);

} // namespace provisiond::storage
