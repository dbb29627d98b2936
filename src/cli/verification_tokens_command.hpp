#pragma once
// `provisiond verification-tokens create|list|revoke`: the tokens that link a metadata-document
// client to an organization (docs/CIMD.md "Verification tokens").

#include "config/config.hpp"

#include <CLI/CLI.hpp>

namespace provisiond::cli {

struct VerificationTokenOptions {
    std::string organization_id;
    std::string token_id;
    bool json = false;
};

void add_verification_tokens_command(CLI::App& app, Config& config,
                                     VerificationTokenOptions& options, int& exit_code);

} // namespace provisiond::cli
