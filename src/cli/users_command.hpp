#pragma once
// `provisiond users list|show|disable|enable|reset-link`: the people who have accounts, seen and
// helped by the operator.

#include "config/config.hpp"

#include <CLI/CLI.hpp>

namespace provisiond::cli {

struct UsersOptions {
    std::string user; ///< an id, or an email address (any spelling of it)
    std::string email_contains;
    bool json = false;
};

void add_users_command(CLI::App& app, Config& config, UsersOptions& options, int& exit_code);

} // namespace provisiond::cli
