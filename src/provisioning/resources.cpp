#include "provisioning/resources.hpp"

#include "accounts/account_repository.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "oauth/grant_repository.hpp"
#include "oauth/rate_limited_partner.hpp"
#include "oauth/token_formats.hpp"
#include "provisioning/label_prefix.hpp"
#include "provisioning/provisioning_repository.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

#include <algorithm>

namespace provisiond::provisioning {
namespace {

constexpr std::string_view default_project_name = "Default project";

bool reaches(const std::vector<std::int64_t>& reach, std::int64_t project_id) {
    return std::find(reach.begin(), reach.end(), project_id) != reach.end();
}

/// The project `id`, or `missing` (with `message`) when there is none.
Result<accounts::Project> load_project(Repositories& r, std::int64_t id, ErrorCode missing,
                                       std::string message) {
    ASSIGN_OR_RETURN(auto project, r.accounts().find_project(id));
    if (!project) {
        return make_error(missing, std::move(message));
    }
    return std::move(*project);
}

Result<accounts::Organization> organization_of(Repositories& r, const accounts::Project& project) {
    ASSIGN_OR_RETURN(auto org, r.accounts().find_organization(project.organization_id));
    if (!org) {
        return make_error(ErrorCode::not_found, "Resource not found");
    }
    return std::move(*org);
}

/// The caller's family as stored now: another request may have widened or revoked it since the
/// bearer was checked.
Result<oauth::TokenFamily> load_live_family(Repositories& r, const oauth::BearerContext& caller) {
    ASSIGN_OR_RETURN(auto family, r.grants().find_family(caller.family.id));
    if (!family || family->revoked_at) {
        return make_error(ErrorCode::unauthorized, "Invalid access token");
    }
    return std::move(*family);
}

/// The project the partner already linked to its own id `partner_project_id`, if any; it must
/// still belong to an organization the user is a member of.
Result<std::optional<accounts::Project>> find_bound_project(Repositories& r,
                                                            const oauth::BearerContext& caller,
                                                            const std::string& partner_project_id) {
    ASSIGN_OR_RETURN(auto bound,
                     r.provisioning().find_binding(caller.client.client_id, partner_project_id));
    if (!bound) {
        return std::nullopt;
    }
    ASSIGN_OR_RETURN(auto project,
                     load_project(r, *bound, ErrorCode::not_found, "Resource not found"));
    ASSIGN_OR_RETURN(bool member,
                     r.accounts().is_member(project.organization_id, caller.family.user_id));
    if (!member) {
        return make_error(ErrorCode::not_found, "Resource not found");
    }
    return project;
}

/// A new project in the organization of `base_project_id` (the family's first project), linked
/// to the partner's id; announced by a project.created webhook.
Result<accounts::Project> create_bound_project(Repositories& r, const oauth::BearerContext& caller,
                                               const CreateResource& request,
                                               std::int64_t base_project_id, std::int64_t now) {
    ASSIGN_OR_RETURN(auto base,
                     load_project(r, base_project_id, ErrorCode::team_not_found, "Team not found"));
    ASSIGN_OR_RETURN(auto created,
                     r.accounts().insert_project(
                         base.organization_id,
                         request.project_name.value_or(std::string(default_project_name)),
                         oauth::mint_prefixed_secret(oauth::project_token_prefix), now));
    auto bind =
        r.provisioning().insert_binding(caller.client.client_id, *request.project_id, created.id);
    if (!bind) {
        return bind.error().code == ErrorCode::conflict
                   ? make_error(ErrorCode::project_id_conflict,
                                "Project ID already linked to another organization")
                   : bind.error();
    }
    RETURN_IF_ERROR(r.webhooks().enqueue(
        webhooks::make_event("project.created",
                             {{"project", {{"id", created.id}, {"name", created.name}}},
                              {"organization_id", created.organization_id},
                              {"user_id", caller.family.user_id},
                              {"partner", {{"client_id", caller.client.client_id}}}},
                             now)));
    return created;
}

/// The project a create request is for: the one linked to the partner's `project_id` (made
/// and linked on first use, then added to the family's reach), or without one the family's
/// first project.
Result<accounts::Project> resolve_project(Repositories& r, const oauth::BearerContext& caller,
                                          const CreateResource& request, std::int64_t now) {
    ASSIGN_OR_RETURN(auto family, load_live_family(r, caller));
    std::vector<std::int64_t> reach = std::move(family.project_ids);
    if (reach.empty()) {
        return make_error(ErrorCode::no_team, "No team associated with this token");
    }
    if (!request.project_id) {
        auto project = load_project(r, reach.front(), ErrorCode::team_not_found, "Team not found");
        if (!project) {
            Error e = project.error();
            e.debug = std::to_string(reach.front());
            return e;
        }
        return project;
    }
    ASSIGN_OR_RETURN(auto bound, find_bound_project(r, caller, *request.project_id));
    accounts::Project project;
    if (bound) {
        project = std::move(*bound);
    } else {
        ASSIGN_OR_RETURN(project, create_bound_project(r, caller, request, reach.front(), now));
    }
    if (!reaches(reach, project.id)) {
        reach.push_back(project.id);
        RETURN_IF_ERROR(r.grants().set_family_projects(caller.family.id, reach));
    }
    return project;
}

/// Mints a personal API key for the project with the token's scopes; returns its raw value.
Result<std::string> mint_personal_key(Repositories& r, const oauth::BearerContext& caller,
                                      const accounts::Project& project,
                                      const std::optional<std::string>& label_prefix,
                                      std::int64_t now) {
    std::string key = oauth::mint_prefixed_secret(oauth::personal_api_key_prefix);
    PersonalApiKey record;
    record.id = crypto::random_uuid();
    record.key_hash = crypto::sha256_hex(key);
    record.mask = oauth::mask_secret(key, oauth::personal_api_key_prefix);
    record.label = personal_key_label(label_prefix, project.name);
    record.scopes = caller.family.scopes;
    record.user_id = caller.family.user_id;
    record.organization_id = project.organization_id;
    record.project_id = project.id;
    record.client_id = caller.client.client_id;
    record.created_at = now;
    RETURN_IF_ERROR(r.provisioning().insert_personal_api_key(record));
    RETURN_IF_ERROR(r.audit().record(
        audit::make_audit("key.created", {"partner", record.user_id, record.client_id, ""},
                          {{"key_id", record.id},
                           {"mask", record.mask},
                           {"project_id", record.project_id},
                           {"via", "partner"}},
                          now)));
    return key;
}

} // namespace

bool is_known_service(std::string_view service_id) {
    return service_id == "analytics" || service_id == "free" || service_id == "pay_as_you_go";
}

Result<void> ResourceService::charge_create(const oauth::BearerContext& caller) {
    return limiter_.charge(oauth::rate_limited_partner(caller.client),
                           ratelimit::Endpoint::resource_creates);
}

Result<std::int64_t> ResourceService::reachable_project(const oauth::BearerContext& caller,
                                                        std::string_view id) const {
    auto project_id = parse_positive_integer(id);
    if (!project_id) {
        return make_error(ErrorCode::invalid_resource_id, "Invalid resource ID");
    }
    if (!reaches(caller.family.project_ids, *project_id)) {
        return make_error(ErrorCode::forbidden, "Resource not accessible with this token");
    }
    return *project_id;
}

Result<ResourceCredentials> ResourceService::create(const oauth::BearerContext& caller,
                                                    const CreateResource& request) {
    if (caller.family.project_ids.empty()) {
        return make_error(ErrorCode::no_team, "No team associated with this token");
    }
    const std::int64_t now = clock_.now();
    ResourceCredentials out;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto project, resolve_project(r, caller, request, now));
        RETURN_IF_ERROR(r.provisioning().save_service(project.id, caller.client.client_id,
                                                      request.service_id, now));
        ASSIGN_OR_RETURN(auto org, organization_of(r, project));
        ASSIGN_OR_RETURN(auto key,
                         mint_personal_key(r, caller, project, request.label_prefix, now));
        out = ResourceCredentials{project.id, request.service_id, project.api_token,
                                  config_.host_for_region(org.region), std::move(key)};
        return {};
    }));
    return out;
}

Result<ResourceCredentials> ResourceService::get(const oauth::BearerContext& caller,
                                                 std::string_view resource_id) {
    ASSIGN_OR_RETURN(auto project_id, reachable_project(caller, resource_id));
    ResourceCredentials out;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto project,
                         load_project(r, project_id, ErrorCode::not_found, "Resource not found"));
        ASSIGN_OR_RETURN(auto org, organization_of(r, project));
        ASSIGN_OR_RETURN(auto service, r.provisioning().find_service(project_id));
        out = ResourceCredentials{project_id, service.value_or("analytics"), project.api_token,
                                  config_.host_for_region(org.region), std::nullopt};
        return {};
    }));
    return out;
}

Result<ResourceCredentials>
ResourceService::rotate(const oauth::BearerContext& caller, std::string_view resource_id,
                        const std::optional<std::string>& label_prefix) {
    ASSIGN_OR_RETURN(auto project_id, reachable_project(caller, resource_id));
    const std::int64_t now = clock_.now();
    ResourceCredentials out;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto project,
                         load_project(r, project_id, ErrorCode::not_found, "Resource not found"));
        std::string token = oauth::mint_prefixed_secret(oauth::project_token_prefix);
        auto replaced = r.accounts().set_project_token(project_id, token);
        if (!replaced || !*replaced) {
            return make_error(ErrorCode::credential_rotation_failed,
                              "Failed to rotate credentials");
        }
        project.api_token = token;
        ASSIGN_OR_RETURN(auto org, organization_of(r, project));
        ASSIGN_OR_RETURN(auto service, r.provisioning().find_service(project_id));
        ASSIGN_OR_RETURN(auto key, mint_personal_key(r, caller, project, label_prefix, now));
        out = ResourceCredentials{project_id, service.value_or("analytics"), token,
                                  config_.host_for_region(org.region), std::move(key)};
        RETURN_IF_ERROR(r.audit().record(audit::make_audit(
            "credentials.rotated", {"partner", caller.family.user_id, caller.client.client_id, ""},
            {{"project_id", project_id}}, now)));
        return r.webhooks().enqueue(
            webhooks::make_event("credentials.rotated",
                                 {{"project_id", project_id},
                                  {"organization_id", project.organization_id},
                                  {"user_id", caller.family.user_id},
                                  {"partner", {{"client_id", caller.client.client_id}}}},
                                 now));
    }));
    return out;
}

Result<std::int64_t> ResourceService::remove(const oauth::BearerContext& caller,
                                             std::string_view resource_id) {
    ASSIGN_OR_RETURN(auto project_id, reachable_project(caller, resource_id));
    const std::int64_t now = clock_.now();
    auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.provisioning().delete_service(project_id, caller.client.client_id));
        // Take the project out of every live grant this partner holds for this user; a grant
        // left reaching nothing is revoked. The project and its data stay.
        ASSIGN_OR_RETURN(auto families,
                         r.grants().live_families(caller.client.client_id, caller.family.user_id));
        for (auto& family : families) {
            auto& reach = family.project_ids;
            auto it = std::find(reach.begin(), reach.end(), project_id);
            if (it == reach.end()) {
                continue;
            }
            reach.erase(it);
            if (reach.empty()) {
                RETURN_IF_ERROR(r.grants().revoke_family(family.id, "resource_removed", now));
                RETURN_IF_ERROR(r.audit().record(audit::make_audit(
                    "family.revoked",
                    {"partner", caller.family.user_id, caller.client.client_id, ""},
                    {{"family_id", family.id}, {"reason", "resource_removed"}}, now)));
            } else {
                RETURN_IF_ERROR(r.grants().set_family_projects(family.id, reach));
            }
        }
        return r.webhooks().enqueue(
            webhooks::make_event("resource.removed",
                                 {{"project_id", project_id},
                                  {"user_id", caller.family.user_id},
                                  {"partner", {{"client_id", caller.client.client_id}}}},
                                 now));
    });
    if (!done) {
        Error e = make_error(ErrorCode::remove_failed, "Failed to remove resource");
        e.debug = done.error().debug;
        return done.error().code == ErrorCode::unavailable ? done.error() : e;
    }
    return project_id;
}

} // namespace provisiond::provisioning
