#pragma once
// Files that must be on the disk, not only in the page cache, before the caller goes on: an
// outbox message before its row says delivered, a generated key before anything is sealed with it.

#include "core/error.hpp"

#include <string>
#include <string_view>

namespace provisiond {

/// Creates `path`, which must not exist yet (O_EXCL: never writes into another's file), with
/// permission bits `mode`, writes `bytes` and fsyncs it. On failure nothing is left at `path`,
/// and the error (unavailable) says which step failed and why (errno's text).
Result<void> write_new_file_durably(const std::string& path, std::string_view bytes, unsigned mode);

} // namespace provisiond
