#include "oauth/scopes.hpp"

#include "core/strings.hpp"

#include <algorithm>
#include <iterator>

namespace provisiond::oauth {

const std::vector<std::string>& scope_catalog() {
    // The public document's list, plus what PostHog's own wizard asks for.
    static const std::vector<std::string> catalog = sorted_unique({
        "conversation:read",
        "conversation:write",
        "customer_journey:read",
        "dashboard:write",
        "event_definition:write",
        "experiment:read",
        "feature_flag:read",
        "hog_flow:read",
        "hog_flow:write",
        "insight:read",
        "insight:write",
        "llm_gateway:read",
        "notebook:write",
        "organization:read",
        "person:read",
        "project:read",
        "query:read",
        "ticket:read",
        "ticket:write",
        "user:read",
    });
    return catalog;
}

std::string describe_scope(std::string_view scope) {
    static const std::pair<std::string_view, std::string_view> words[] = {
        {"conversation:read", "Read conversations"},
        {"conversation:write", "Write conversations"},
        {"customer_journey:read", "Read customer journeys"},
        {"dashboard:write", "Create and edit dashboards"},
        {"event_definition:write", "Edit event definitions"},
        {"experiment:read", "Read experiments"},
        {"feature_flag:read", "Read feature flags"},
        {"hog_flow:read", "Read workflows"},
        {"hog_flow:write", "Create and edit workflows"},
        {"insight:read", "Read insights"},
        {"insight:write", "Create and edit insights"},
        {"llm_gateway:read", "Use the LLM gateway"},
        {"notebook:write", "Create and edit notebooks"},
        {"organization:read", "Read your organization"},
        {"person:read", "Read persons"},
        {"project:read", "Read your projects"},
        {"query:read", "Run queries on your data"},
        {"ticket:read", "Read support tickets"},
        {"ticket:write", "Create and edit support tickets"},
        {"user:read", "Read your name and email"},
    };
    for (const auto& [name, text] : words) {
        if (name == scope) {
            return std::string(text);
        }
    }
    return std::string(scope);
}

bool is_known_scope(std::string_view scope) {
    const auto& catalog = scope_catalog();
    return std::binary_search(catalog.begin(), catalog.end(), scope);
}

bool within_ceiling(const std::vector<std::string>& scopes,
                    const std::vector<std::string>& ceiling) {
    return std::all_of(scopes.begin(), scopes.end(), [&](const std::string& s) {
        return std::find(ceiling.begin(), ceiling.end(), s) != ceiling.end();
    });
}

std::vector<std::string> narrow_to_ceiling(const std::vector<std::string>& scopes,
                                           const std::vector<std::string>& ceiling) {
    std::vector<std::string> kept;
    std::copy_if(scopes.begin(), scopes.end(), std::back_inserter(kept), [&](const std::string& s) {
        return std::find(ceiling.begin(), ceiling.end(), s) != ceiling.end();
    });
    return kept;
}

Result<std::vector<std::string>>
resolve_requested_scopes(const std::optional<std::vector<std::string>>& requested,
                         const std::vector<std::string>& ceiling) {
    if (!requested) {
        return sorted_unique(ceiling);
    }
    if (requested->empty()) {
        return make_error(ErrorCode::invalid_scope,
                          "At least one scope is required when scopes is given");
    }
    for (const auto& s : *requested) {
        if (!is_known_scope(s)) {
            return make_error(ErrorCode::invalid_scope,
                              "One or more requested scopes are not recognized");
        }
    }
    if (!within_ceiling(*requested, ceiling)) {
        return make_error(ErrorCode::invalid_scope,
                          "One or more requested scopes exceed the application's allowed scopes");
    }
    return sorted_unique(*requested);
}

} // namespace provisiond::oauth
