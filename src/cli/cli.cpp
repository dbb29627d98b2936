#include "cli/cli.hpp"

#include "app/app.hpp"
#include "app/database_backend.hpp"
#include "cli/audit_command.hpp"
#include "cli/clients_command.hpp"
#include "cli/organizations_command.hpp"
#include "cli/settings.hpp"
#include "cli/users_command.hpp"
#include "cli/verification_tokens_command.hpp"
#include "cli/webhooks_command.hpp"
#include "storage/migrations.hpp"
#include "storage/sqlite/sqlite_backup.hpp"

#include <cstdlib>
#include <iostream>

namespace provisiond::cli {
namespace {

/// The --config path from argv or PROVISIOND_CONFIG, found before CLI11 parses anything (the
/// file's values become the options' defaults, below the environment and the flags).
std::string find_config_path(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            return argv[i + 1];
        }
        if (arg.rfind("--config=", 0) == 0) {
            return arg.substr(9);
        }
    }
    const char* env = std::getenv("PROVISIOND_CONFIG");
    return env ? env : "";
}

/// The subcommand path named in argv (e.g. {"clients", "add"}), to apply the config file to.
std::vector<std::string> subcommand_path(const CLI::App& app, int argc, char** argv) {
    std::vector<std::string> path;
    const CLI::App* current = &app;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("-", 0) == 0) {
            continue;
        }
        try {
            current = current->get_subcommand(arg);
            path.push_back(arg);
        } catch (const CLI::OptionNotFound&) {
            break;
        }
    }
    return path;
}

} // namespace

int run(int argc, char** argv) {
    CLI::App app{
        "provisiond: PostHog-compatible partner provisioning API and OAuth 2.0 server.\n\n"
        "Start here:\n"
        "  provisiond migrate               # creates provisiond.db here\n"
        "  provisiond clients add --client-id my-partner --name \"My Partner\" \\\n"
        "      --redirect-uri https://partner.example/callback\n"
        "  provisiond serve                 # http://127.0.0.1:8000\n\n"
        "Operate it (on the database `serve` uses):\n"
        "  provisiond clients list          # partners; clients show|edit|disable|delete ID\n"
        "  provisiond users show jane@example.com   # users disable|enable|reset-link\n"
        "  provisiond organizations list    # organizations show ID: members and projects\n"
        "Every list and show prints a table (or key: value lines); --json prints JSON.\n"
        "Bad flags or values exit 2; an unknown id or a failed command exits 1.\n\n"
        "Every setting is also read from PROVISIOND_<SETTING> (e.g. PROVISIOND_DATABASE) and from\n"
        "a `--config FILE` of `key = value` lines. Flags win over the environment, which wins\n"
        "over the file. `provisiond serve --help` lists every setting.",
        "provisiond"};
    app.set_version_flag("--version", PROVISIOND_VERSION);
    app.require_subcommand(1);
    int exit_code = 0;
    Config config;

    auto* serve = app.add_subcommand("serve", "Run the HTTP server (migrates the database first)");
    add_settings(*serve, config, SettingScope::server);
    serve->callback([&] {
        if (auto problem = config.finalize(); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        exit_code = app::serve(config);
    });

    auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations and exit");
    add_settings(*migrate, config, SettingScope::storage);
    migrate->callback([&] {
        std::vector<std::string> applied;
        std::vector<std::string> warnings;
        auto db = app::open_migrated_database(config, 1, &applied, &warnings);
        if (!db) {
            std::cerr << "error: " << db.error().message << "\n";
            exit_code = 1;
            return;
        }
        for (const auto& name : applied) {
            std::cout << "applied " << name << "\n";
        }
        for (const auto& warning : warnings) {
            std::cerr << "warning: migration " << warning << "\n";
        }
        auto version = storage::schema_version(**db);
        std::cout << "schema version " << (version ? *version : -1) << "\n";
    });

    std::string backup_to;
    auto* backup = app.add_subcommand(
        "backup",
        "Copy the database to a new file while the server keeps serving (SQLite's online backup); "
        "restore by stopping the server and putting the copy in the database's place. Back up "
        "the secrets key file (webhooks) with it");
    add_settings(*backup, config, SettingScope::storage);
    backup->add_option("--to", backup_to, "The new file to write (never overwritten)")->required();
    backup->callback([&] {
        if (app::backend_of(config.database) == app::Backend::postgres) {
            std::cerr << "error: `provisiond backup` copies a SQLite file. On PostgreSQL use its "
                         "own tools while serving:\n  pg_dump --format=custom --file=FILE '"
                      << app::display_name(config.database)
                      << "'\n  (docs/OPERATIONS.md#back-up-and-restore shows the restore).\n";
            exit_code = 2;
            return;
        }
        auto done = storage::backup_sqlite(config.database, backup_to);
        if (!done) {
            std::cerr << "error: " << done.error().message << "\n";
            exit_code = 1;
            return;
        }
        std::cout << "backed up " << config.database << " to " << backup_to << "\n";
    });

    ClientsOptions clients_options;
    add_clients_command(app, config, clients_options, exit_code);
    VerificationTokenOptions token_options;
    add_verification_tokens_command(app, config, token_options, exit_code);
    AuditOptions audit_options;
    add_audit_command(app, config, audit_options, exit_code);
    WebhookOptions webhook_options;
    add_webhooks_command(app, config, webhook_options, exit_code);
    UsersOptions user_options;
    add_users_command(app, config, user_options, exit_code);
    OrganizationsOptions organization_options;
    add_organizations_command(app, config, organization_options, exit_code);

    std::string config_path = find_config_path(argc, argv);
    if (!config_path.empty()) {
        std::map<std::string, std::string> values;
        if (auto problem = read_config_file(config_path, values); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            return 2;
        }
        CLI::App* target = &app;
        for (const auto& name : subcommand_path(app, argc, argv)) {
            target = target->get_subcommand(name);
        }
        if (target == serve) {
            if (auto problem = apply_config_file(*serve, values, config_path); !problem.empty()) {
                std::cerr << "error: " << problem << "\n";
                return 2;
            }
        } else if (target != &app) {
            // Other commands take the settings they have (database, secrets-key-file, and for
            // `users reset-link` the public URL and branding) and ignore the rest of the server's.
            // A setting is an option with an environment variable: a command's own flag of the
            // same name (`clients edit --limit-account-requests`) is never set from the file.
            std::map<std::string, std::string> known;
            for (const auto& [key, value] : values) {
                const CLI::Option* option = target->get_option_no_throw("--" + key);
                if (option != nullptr && key != "config" && !option->get_envname().empty()) {
                    known.emplace(key, value);
                }
            }
            (void)apply_config_file(*target, known, config_path);
        }
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every other parse error (an unknown flag, a missing
        // argument, a value of the wrong type) is bad input: exit 2, like the commands' own checks.
        return app.exit(e) == 0 ? 0 : 2;
    }
    return exit_code;
}

} // namespace provisiond::cli
