#pragma once
// `provisiond webhooks add|list|remove|rotate-secret`: endpoints that receive webhook events,
// each with its own signing secret and event filter (docs/WEBHOOKS.md).

#include "config/config.hpp"

#include <CLI/CLI.hpp>

namespace provisiond::cli {

struct WebhookOptions {
    std::string url;
    std::string events; ///< comma-separated event types; empty: every event
    std::string id;
    bool json = false;
};

void add_webhooks_command(CLI::App& app, Config& config, WebhookOptions& options, int& exit_code);

} // namespace provisiond::cli
