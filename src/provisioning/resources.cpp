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

Result<accounts::Organization> organization_of(Repositories& r, const accounts::Project& project) {
    auto org = r.accounts().find_organization(project.organization_id);
    if (!org) {
        return org.error();
    }
    if (!*org) {
        return make_error(ErrorCode::not_found, "Resource not found");
    }
    return **org;
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
    const auto& reach = caller.family.project_ids;
    if (std::find(reach.begin(), reach.end(), *project_id) == reach.end()) {
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
    auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        // Re-read the family: another request may have widened or revoked it meanwhile.
        auto family = r.grants().find_family(caller.family.id);
        if (!family) {
            return family.error();
        }
        if (!*family || (*family)->revoked_at) {
            return make_error(ErrorCode::unauthorized, "Invalid access token");
        }
        std::vector<std::int64_t> reach = (*family)->project_ids;
        std::optional<accounts::Project> project;
        if (request.project_id) {
            auto bound =
                r.provisioning().find_binding(caller.client.client_id, *request.project_id);
            if (!bound) {
                return bound.error();
            }
            if (*bound) {
                auto found = r.accounts().find_project(**bound);
                if (!found) {
                    return found.error();
                }
                if (!*found) {
                    return make_error(ErrorCode::not_found, "Resource not found");
                }
                auto member =
                    r.accounts().is_member((*found)->organization_id, caller.family.user_id);
                if (!member) {
                    return member.error();
                }
                if (!*member) {
                    return make_error(ErrorCode::not_found, "Resource not found");
                }
                project = *found;
            } else {
                auto base = r.accounts().find_project(reach.front());
                if (!base) {
                    return base.error();
                }
                if (!*base) {
                    return make_error(ErrorCode::team_not_found, "Team not found");
                }
                auto created = r.accounts().insert_project(
                    (*base)->organization_id,
                    request.project_name.value_or(std::string(default_project_name)),
                    oauth::mint_prefixed_secret(oauth::project_token_prefix), now);
                if (!created) {
                    return created.error();
                }
                auto bind = r.provisioning().insert_binding(caller.client.client_id,
                                                            *request.project_id, created->id);
                if (!bind) {
                    return bind.error().code == ErrorCode::conflict
                               ? make_error(ErrorCode::project_id_conflict,
                                            "Project ID already linked to another organization")
                               : bind.error();
                }
                project = *created;
                RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::make_event(
                    "project.created",
                    {{"project", {{"id", created->id}, {"name", created->name}}},
                     {"organization_id", created->organization_id},
                     {"user_id", caller.family.user_id},
                     {"partner", {{"client_id", caller.client.client_id}}}},
                    now)));
            }
            if (std::find(reach.begin(), reach.end(), project->id) == reach.end()) {
                reach.push_back(project->id);
                RETURN_IF_ERROR(r.grants().set_family_projects(caller.family.id, reach));
            }
        } else {
            auto found = r.accounts().find_project(reach.front());
            if (!found) {
                return found.error();
            }
            if (!*found) {
                Error e = make_error(ErrorCode::team_not_found, "Team not found");
                e.debug = std::to_string(reach.front());
                return e;
            }
            project = *found;
        }
        RETURN_IF_ERROR(r.provisioning().save_service(project->id, caller.client.client_id,
                                                      request.service_id, now));
        auto org = organization_of(r, *project);
        if (!org) {
            return org.error();
        }
        auto key = mint_personal_key(r, caller, *project, request.label_prefix, now);
        if (!key) {
            return key.error();
        }
        out = ResourceCredentials{project->id, request.service_id, project->api_token,
                                  config_.host_for_region(org->region), *key};
        return {};
    });
    if (!done) {
        return done.error();
    }
    return out;
}

Result<ResourceCredentials> ResourceService::get(const oauth::BearerContext& caller,
                                                 std::string_view resource_id) {
    auto project_id = reachable_project(caller, resource_id);
    if (!project_id) {
        return project_id.error();
    }
    ResourceCredentials out;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        auto project = r.accounts().find_project(*project_id);
        if (!project) {
            return project.error();
        }
        if (!*project) {
            return make_error(ErrorCode::not_found, "Resource not found");
        }
        auto org = organization_of(r, **project);
        if (!org) {
            return org.error();
        }
        auto service = r.provisioning().find_service(*project_id);
        if (!service) {
            return service.error();
        }
        out =
            ResourceCredentials{*project_id, service->value_or("analytics"), (*project)->api_token,
                                config_.host_for_region(org->region), std::nullopt};
        return {};
    }));
    return out;
}

Result<ResourceCredentials>
ResourceService::rotate(const oauth::BearerContext& caller, std::string_view resource_id,
                        const std::optional<std::string>& label_prefix) {
    auto project_id = reachable_project(caller, resource_id);
    if (!project_id) {
        return project_id.error();
    }
    const std::int64_t now = clock_.now();
    ResourceCredentials out;
    auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        auto project = r.accounts().find_project(*project_id);
        if (!project) {
            return project.error();
        }
        if (!*project) {
            return make_error(ErrorCode::not_found, "Resource not found");
        }
        std::string token = oauth::mint_prefixed_secret(oauth::project_token_prefix);
        auto replaced = r.accounts().set_project_token(*project_id, token);
        if (!replaced || !*replaced) {
            return make_error(ErrorCode::credential_rotation_failed,
                              "Failed to rotate credentials");
        }
        (*project)->api_token = token;
        auto org = organization_of(r, **project);
        if (!org) {
            return org.error();
        }
        auto service = r.provisioning().find_service(*project_id);
        if (!service) {
            return service.error();
        }
        auto key = mint_personal_key(r, caller, **project, label_prefix, now);
        if (!key) {
            return key.error();
        }
        out = ResourceCredentials{*project_id, service->value_or("analytics"), token,
                                  config_.host_for_region(org->region), *key};
        RETURN_IF_ERROR(r.audit().record(audit::make_audit(
            "credentials.rotated", {"partner", caller.family.user_id, caller.client.client_id, ""},
            {{"project_id", *project_id}}, now)));
        return r.webhooks().enqueue(
            webhooks::make_event("credentials.rotated",
                                 {{"project_id", *project_id},
                                  {"organization_id", (*project)->organization_id},
                                  {"user_id", caller.family.user_id},
                                  {"partner", {{"client_id", caller.client.client_id}}}},
                                 now));
    });
    if (!done) {
        return done.error();
    }
    return out;
}

Result<std::int64_t> ResourceService::remove(const oauth::BearerContext& caller,
                                             std::string_view resource_id) {
    auto project_id = reachable_project(caller, resource_id);
    if (!project_id) {
        return project_id.error();
    }
    const std::int64_t now = clock_.now();
    auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.provisioning().delete_service(*project_id, caller.client.client_id));
        // Take the project out of every live grant this partner holds for this user; a grant
        // left reaching nothing is revoked. The project and its data stay.
        auto families = r.grants().live_families(caller.client.client_id, caller.family.user_id);
        if (!families) {
            return families.error();
        }
        for (auto& family : *families) {
            auto& reach = family.project_ids;
            auto it = std::find(reach.begin(), reach.end(), *project_id);
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
                                 {{"project_id", *project_id},
                                  {"user_id", caller.family.user_id},
                                  {"partner", {{"client_id", caller.client.client_id}}}},
                                 now));
    });
    if (!done) {
        Error e = make_error(ErrorCode::remove_failed, "Failed to remove resource");
        e.debug = done.error().debug;
        return done.error().code == ErrorCode::unavailable ? done.error() : e;
    }
    return *project_id;
}

} // namespace provisiond::provisioning
