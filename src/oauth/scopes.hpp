#pragma once
// The scope catalog and the ceiling rules (docs/API.md "Scopes").

#include "core/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace provisiond::oauth {

/// Every scope provisiond recognizes, sorted.
const std::vector<std::string>& scope_catalog();

bool is_known_scope(std::string_view scope);

/// What a scope allows, in plain words for the consent page ("Read your projects").
std::string describe_scope(std::string_view scope);

/// Resolves the scopes of an account request against a client's ceiling: omitted → the whole
/// ceiling; any unknown scope or one outside the ceiling → invalid_scope. Result is sorted.
Result<std::vector<std::string>>
resolve_requested_scopes(const std::optional<std::vector<std::string>>& requested,
                         const std::vector<std::string>& ceiling);

/// True when every scope is inside the ceiling.
bool within_ceiling(const std::vector<std::string>& scopes,
                    const std::vector<std::string>& ceiling);

/// The scopes that are still inside the ceiling, in their order: a refreshed grant may only
/// narrow when an operator lowered the client's ceiling since it was granted.
std::vector<std::string> narrow_to_ceiling(const std::vector<std::string>& scopes,
                                           const std::vector<std::string>& ceiling);

} // namespace provisiond::oauth
