#pragma once
// Prefixes and minting of every bearer secret (posthog-behavior.md §1.5).

#include <string>
#include <string_view>

namespace provisiond::oauth {

inline constexpr std::string_view access_token_prefix = "pha_";
inline constexpr std::string_view refresh_token_prefix = "phr_";
inline constexpr std::string_view personal_api_key_prefix = "phx_";
inline constexpr std::string_view project_token_prefix = "phc_";

/// `prefix` + 43 base62 characters (≈256 bits).
std::string mint_prefixed_secret(std::string_view prefix);

/// `phx_...abcd`: what a listing may show of a personal API key.
std::string mask_secret(std::string_view secret, std::string_view prefix);

} // namespace provisiond::oauth
