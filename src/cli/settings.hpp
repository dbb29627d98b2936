#pragma once
// Binds every Config field to a flag, an environment variable and a config-file key, with the
// help text `--help` shows. Precedence: flag > environment > config file > built-in default.

#include "config/config.hpp"

#include <CLI/CLI.hpp>

#include <map>

namespace provisiond::cli {

enum class SettingScope {
    storage, ///< only what reaches the database (migrate, clients)
    server,  ///< everything `serve` reads
};

void add_settings(CLI::App& command, Config& config, SettingScope scope);

/// The settings of metadata-document fetches (`serve`, `clients check`).
void add_cimd_settings(CLI::App& command, Config& config);

/// The operator's product name, logo, accent colour, support address and dashboard URL.
void add_branding_settings(CLI::App& command, Config& config);

/// What an email queued outside `serve` is written with (`users reset-link`): the public URL its
/// links point at (or the listen address it defaults from), the link lifetime and the branding.
void add_email_settings(CLI::App& command, Config& config);

/// Reads `key = value` lines (# comments, blank lines; optional quotes around the value).
/// Returns an error message or "".
std::string read_config_file(const std::string& path, std::map<std::string, std::string>& out);

/// Applies config-file values as the defaults of `command`'s options; unknown keys are errors.
std::string apply_config_file(CLI::App& command, const std::map<std::string, std::string>& values,
                              const std::string& path);

} // namespace provisiond::cli
