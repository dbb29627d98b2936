#pragma once
// `provisiond clients …`: the operator's registry of partners ("standard registration").

#include "config/config.hpp"

#include <CLI/CLI.hpp>

namespace provisiond::cli {

/// What the `clients` subcommands collect from the command line.
struct ClientsOptions {
    std::string client_id;
    std::string name;
    std::vector<std::string> redirect_uris;
    std::string scopes;
    std::string endpoint;
    std::string limit;
    std::string reason;
    bool json = false;
};

/// Adds `clients add|list|show|disable|enable|set-limit|check|block|unblock|blocked` to `app`; each
/// runs against `config`.
void add_clients_command(CLI::App& app, Config& config, ClientsOptions& options, int& exit_code);

/// Validates a redirect URI for a public client (cimd::redirect_uri_problem): https, http on a
/// loopback host, or a reverse-domain app scheme (RFC 8252); "" when valid.
std::string check_redirect_uri(std::string_view uri);

/// Validates an operator-chosen client id: 1–255 printable ASCII characters without spaces.
std::string check_client_id(std::string_view client_id);

} // namespace provisiond::cli
