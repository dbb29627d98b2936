#pragma once
// `provisiond organizations list|show`: the organizations people and partners created, with
// their members (and roles) and projects.

#include "config/config.hpp"

#include <CLI/CLI.hpp>

namespace provisiond::cli {

struct OrganizationsOptions {
    std::string organization_id;
    bool json = false;
};

void add_organizations_command(CLI::App& app, Config& config, OrganizationsOptions& options,
                               int& exit_code);

} // namespace provisiond::cli
