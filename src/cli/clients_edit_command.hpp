#pragma once
// `provisiond clients edit` and `provisiond clients delete`: changing an operator-registered
// client after `clients add`, and removing any client for good.

#include "cli/clients_command.hpp"

namespace provisiond::cli {

/// Adds `clients edit <client_id> [--name] [--redirect-uri…] [--scope…] [--limit-…]`.
void add_clients_edit_command(CLI::App& clients, Config& config, ClientsOptions& options,
                              int& exit_code);

/// Adds `clients delete <client_id>`.
void add_clients_delete_command(CLI::App& clients, Config& config, ClientsOptions& options,
                                int& exit_code);

} // namespace provisiond::cli
