#include "cli/organizations_command.hpp"

#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"

#include <boost/json.hpp>

#include <iostream>

namespace provisiond::cli {
namespace {

/// An organization with its members (and roles) and projects.
Result<boost::json::object> organization_details(Repositories& r,
                                                 const accounts::Organization& org) {
    ASSIGN_OR_RETURN(auto members, r.accounts().members_of_organization(org.id));
    ASSIGN_OR_RETURN(auto projects, r.accounts().projects_of_organization(org.id));
    boost::json::array member_list;
    for (const auto& m : members) {
        member_list.push_back({{"user_id", m.user_id},
                               {"email", m.email},
                               {"role", m.role},
                               {"joined_at", format_iso8601(m.created_at)}});
    }
    boost::json::array project_list;
    for (const auto& p : projects) {
        project_list.push_back(
            {{"id", p.id}, {"name", p.name}, {"created_at", format_iso8601(p.created_at)}});
    }
    return boost::json::object{{"id", org.id},
                               {"name", org.name},
                               {"region", org.region},
                               {"created_at", format_iso8601(org.created_at)},
                               {"members", std::move(member_list)},
                               {"projects", std::move(project_list)}};
}

} // namespace

void add_organizations_command(CLI::App& app, Config& config, OrganizationsOptions& o,
                               int& exit_code) {
    auto* organizations = app.add_subcommand(
        "organizations", "Organizations, with their members (and roles) and projects");
    organizations->require_subcommand(1);

    auto* list = organizations->add_subcommand(
        "list", "List organizations, oldest first: a table, or JSON with --json");
    add_settings(*list, config, SettingScope::storage);
    list->add_flag("--json", o.json, json_flag_help);
    list->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto all = r.accounts().list_organizations();
            if (!all) {
                return report_failure(all.error());
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& s : *all) {
                    out.push_back({{"id", s.organization.id},
                                   {"name", s.organization.name},
                                   {"region", s.organization.region},
                                   {"members", s.members},
                                   {"projects", s.projects},
                                   {"created_at", format_iso8601(s.organization.created_at)}});
                }
                print_json(std::cout, out);
                return 0;
            }
            if (all->empty()) {
                std::cout << "no organizations yet: a partner's first account request for a "
                             "person creates one\n";
                return 0;
            }
            Table table({"ID", "NAME", "REGION", "MEMBERS", "PROJECTS", "CREATED"});
            for (const auto& s : *all) {
                table.add_row({s.organization.id, s.organization.name, s.organization.region,
                               std::to_string(s.members), std::to_string(s.projects),
                               time_cell(s.organization.created_at)});
            }
            table.print(std::cout);
            return 0;
        });
    });

    auto* show = organizations->add_subcommand(
        "show", "Show an organization: its region, members and their roles, and projects");
    add_settings(*show, config, SettingScope::storage);
    show->add_option("organization_id", o.organization_id, "The organization's id")->required();
    show->add_flag("--json", o.json, json_flag_help);
    show->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto org = r.accounts().find_organization(o.organization_id);
            if (!org) {
                return report_failure(org.error());
            }
            if (!*org) {
                std::cerr << "error: no organization " << o.organization_id
                          << " (see `provisiond organizations list`)\n";
                return 1;
            }
            auto details = organization_details(r, **org);
            if (!details) {
                return report_failure(details.error());
            }
            if (o.json) {
                print_json(std::cout, *details);
            } else {
                print_record(std::cout, *details);
            }
            return 0;
        });
    });
}

} // namespace provisiond::cli
