#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

#include <boost/json.hpp>

namespace provisiond::storage {
namespace {

using oauth::OAuthClient;

constexpr std::string_view client_columns =
    "client_id, name, kind, redirect_uris, scopes, is_active, can_create_accounts, "
    "can_provision_resources, rate_limits, created_at, updated_at, logo_uri, organization_id, "
    "can_issue_deep_links, operator_verified, deleted_at";

std::map<std::string, std::int64_t> limits_from_json(std::string_view text) {
    std::map<std::string, std::int64_t> out;
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) {
        return out;
    }
    for (const auto& [key, v] : value.as_object()) {
        if (v.is_int64()) {
            out.emplace(std::string(key), v.as_int64());
        }
    }
    return out;
}

std::string limits_to_json(const std::map<std::string, std::int64_t>& limits) {
    boost::json::object o;
    for (const auto& [key, v] : limits) {
        o[key] = v;
    }
    return boost::json::serialize(o);
}

constexpr std::string_view insert_sql =
    "INSERT INTO oauth_clients (client_id, name, kind, redirect_uris, scopes, is_active, "
    "can_create_accounts, "
    "can_provision_resources, rate_limits, created_at, updated_at, logo_uri, organization_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

std::vector<Value> insert_params(const OAuthClient& c) {
    return {c.client_id,
            c.name,
            c.kind,
            to_json_array(c.redirect_uris),
            join(c.scopes, " "),
            std::int64_t{c.is_active},
            std::int64_t{c.can_create_accounts},
            std::int64_t{c.can_provision_resources},
            limits_to_json(c.rate_limits),
            c.created_at,
            c.updated_at,
            optional_text(c.logo_uri),
            optional_text(c.organization_id)};
}

OAuthClient client_from(const Row& r) {
    OAuthClient c;
    c.client_id = r.text(0);
    c.name = r.text(1);
    c.kind = r.text(2);
    c.redirect_uris = strings_from_json_array(r.text(3));
    c.scopes = split_spaces(r.text(4));
    c.is_active = r.integer(5) != 0;
    c.can_create_accounts = r.integer(6) != 0;
    c.can_provision_resources = r.integer(7) != 0;
    c.rate_limits = limits_from_json(r.text(8));
    c.created_at = r.integer(9);
    c.updated_at = r.integer(10);
    c.logo_uri = r.optional_text(11);
    c.organization_id = r.optional_text(12);
    c.can_issue_deep_links = r.integer(13) != 0;
    c.operator_verified = r.integer(14) != 0;
    c.deleted_at = r.optional_integer(15);
    return c;
}

class SqlClientRepository final : public oauth::ClientRepository {
public:
    explicit SqlClientRepository(Connection& c) : c_(c) {}

    Result<std::optional<OAuthClient>> find(std::string_view client_id) override {
        return first<OAuthClient>(query(c_,
                                        "SELECT " + std::string(client_columns) +
                                            " FROM oauth_clients WHERE client_id = $1",
                                        {std::string(client_id)}),
                                  client_from);
    }

    Result<void> insert(const OAuthClient& c) override {
        RETURN_IF_ERROR(c_.execute(insert_sql, insert_params(c)));
        return {};
    }

    Result<void> save_document_client(const OAuthClient& c) override {
        // An operator-registered client with the same id is never overwritten by a document.
        RETURN_IF_ERROR(c_.execute(
            std::string(insert_sql) +
                " ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, "
                "redirect_uris = excluded.redirect_uris, scopes = excluded.scopes, "
                "logo_uri = excluded.logo_uri, organization_id = excluded.organization_id, "
                "updated_at = excluded.updated_at WHERE oauth_clients.kind = 'cimd' AND "
                "oauth_clients.deleted_at IS NULL",
            insert_params(c)));
        return {};
    }

    Result<std::vector<OAuthClient>> list() override {
        ASSIGN_OR_RETURN(auto rows, query(c_, "SELECT " + std::string(client_columns) +
                                                  " FROM oauth_clients WHERE deleted_at IS NULL "
                                                  "ORDER BY created_at, client_id"));
        std::vector<OAuthClient> out;
        for (const auto& r : rows) {
            out.push_back(client_from(r));
        }
        return out;
    }

    Result<bool> set_active(std::string_view client_id, bool active, std::int64_t now) override {
        return execute_one(c_,
                           "UPDATE oauth_clients SET is_active = $1, updated_at = $2 "
                           "WHERE client_id = $3 AND deleted_at IS NULL",
                           {std::int64_t{active}, now, std::string(client_id)});
    }

    Result<bool> set_capability(std::string_view client_id, std::string_view capability, bool on,
                                std::int64_t now) override {
        std::string column = capability == "create_accounts"       ? "can_create_accounts"
                             : capability == "provision_resources" ? "can_provision_resources"
                             : capability == "deep_links"          ? "can_issue_deep_links"
                             : capability == "verified"            ? "operator_verified"
                                                                   : "";
        if (column.empty()) {
            return make_error(ErrorCode::invalid_request, "unknown capability");
        }
        return execute_one(c_,
                           "UPDATE oauth_clients SET " + column +
                               " = $1, updated_at = $2 WHERE client_id = $3 AND "
                               "deleted_at IS NULL",
                           {std::int64_t{on}, now, std::string(client_id)});
    }

    Result<bool> set_rate_limit(std::string_view client_id, std::string_view endpoint,
                                std::optional<std::int64_t> per_hour, std::int64_t now) override {
        ASSIGN_OR_RETURN(auto found, find(client_id));
        if (!found || found->deleted_at) {
            return false;
        }
        auto limits = found->rate_limits;
        if (per_hour) {
            limits[std::string(endpoint)] = *per_hour;
        } else {
            limits.erase(std::string(endpoint));
        }
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE oauth_clients SET rate_limits = $1, updated_at = $2 "
                                "WHERE client_id = $3",
                                {limits_to_json(limits), now, std::string(client_id)}));
        return true;
    }

    Result<bool> update_registered(const OAuthClient& c) override {
        return execute_one(c_,
                           "UPDATE oauth_clients SET name = $1, redirect_uris = $2, scopes = $3, "
                           "updated_at = $4 WHERE client_id = $5 AND kind = 'registered' AND "
                           "deleted_at IS NULL",
                           {c.name, to_json_array(c.redirect_uris), join(c.scopes, " "),
                            c.updated_at, c.client_id});
    }

    Result<bool> mark_deleted(std::string_view client_id, std::int64_t now) override {
        return execute_one(c_,
                           "UPDATE oauth_clients SET is_active = 0, deleted_at = $1, "
                           "updated_at = $1 WHERE client_id = $2 AND deleted_at IS NULL",
                           {now, std::string(client_id)});
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<oauth::ClientRepository> make_sql_client_repository(Connection& c) {
    return std::make_unique<SqlClientRepository>(c);
}

} // namespace provisiond::storage
