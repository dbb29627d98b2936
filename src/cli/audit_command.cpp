#include "cli/audit_command.hpp"

#include "audit/audit_event.hpp"
#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/user_reference.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"

#include <boost/json.hpp>

#include <ctime>
#include <iostream>

namespace provisiond::cli {

std::optional<std::int64_t> parse_since(const std::string& text, std::int64_t now) {
    if (auto when = parse_iso8601(text)) {
        return when;
    }
    if (text.size() < 2) {
        return std::nullopt;
    }
    std::int64_t unit = text.back() == 'm'   ? 60
                        : text.back() == 'h' ? 3600
                        : text.back() == 'd' ? 86400
                                             : 0;
    std::string digits = text.substr(0, text.size() - 1);
    if (unit == 0 || digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return now - std::stoll(digits) * unit;
}

void add_audit_command(CLI::App& app, Config& config, AuditOptions& o, int& exit_code) {
    auto* cmd = app.add_subcommand(
        "audit", "List audit events, newest first: logins, password changes, consents, keys, "
                 "code replays, revoked token families, partners registered, blocked, disabled");
    add_settings(*cmd, config, SettingScope::storage);
    cmd->add_option("--since", o.since,
                    "From when: a span back from now (30m, 24h, 7d) or an ISO-8601 time")
        ->capture_default_str();
    cmd->add_option("--client-id", o.client_id, "Only events of this partner");
    cmd->add_option("--user", o.user, "Only events of this person (an id or an email address)");
    cmd->add_option("--limit", o.limit, "At most this many events")->capture_default_str();
    cmd->add_flag("--json", o.json, json_flag_help);
    cmd->callback([&] {
        std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
        auto since = parse_since(o.since, now);
        if (!since) {
            std::cerr << "error: --since must be a span such as 30m, 24h or 7d, or an ISO-8601 "
                         "time such as 2026-11-30T00:00:00Z\n";
            exit_code = 2;
            return;
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            audit::AuditFilter filter{*since, o.client_id, "", std::max<std::int64_t>(1, o.limit)};
            if (!o.user.empty()) {
                auto user = find_user_by_reference(r, o.user);
                if (!user) {
                    std::cerr << "error: " << user.error().message << "\n";
                    return 1;
                }
                if (!*user) {
                    std::cerr << "error: no user " << o.user << " (see `provisiond users list`)\n";
                    return 1;
                }
                filter.user_id = (*user)->id;
            }
            auto events = r.audit().list(filter);
            if (!events) {
                std::cerr << "error: " << events.error().debug << "\n";
                return 1;
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& e : *events) {
                    out.push_back(audit::to_json(e));
                }
                print_json(std::cout, out);
                return 0;
            }
            Table table({"TIME", "KIND", "ACTOR", "USER", "CLIENT", "REMOTE", "DETAIL"});
            for (const auto& e : *events) {
                table.add_row({time_cell(e.created_at), e.kind, e.subject.actor, e.subject.user_id,
                               e.subject.client_id, e.subject.remote, e.detail});
            }
            table.print(std::cout);
            return 0;
        });
    });
}

} // namespace provisiond::cli
