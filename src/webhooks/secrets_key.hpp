#pragma once
// The key that seals webhook signing secrets at rest. A signing secret must be readable to sign,
// so it cannot be stored as a hash like every other secret; it is stored sealed (libsodium
// secretbox) under a key that lives in a file outside the database (0600), so a copy of the
// database alone reveals no secret. Back the file up with the database (docs/WEBHOOKS.md).

#include "core/error.hpp"

#include <string>

namespace provisiond::webhooks {

/// The key in `path`; when `create` and the file does not exist, a new key is written there
/// (mode 0600). An error names the file and what to do.
Result<std::string> load_secrets_key(const std::string& path, bool create);

} // namespace provisiond::webhooks
