#include "oauth/revocation_endpoint.hpp"

#include "accounts/account_repository.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "http/body.hpp"
#include "http/error_envelope.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"
#include "oauth/token_formats.hpp"

#include <boost/json.hpp>

namespace provisiond::oauth {
namespace {

struct TokenLookup {
    std::optional<AccessToken> access;
    std::optional<RefreshToken> refresh;
    std::optional<TokenFamily> family;
};

Result<TokenLookup> look_up(Repositories& r, const std::string& token) {
    TokenLookup out;
    std::string hash = crypto::sha256_hex(token);
    ASSIGN_OR_RETURN(out.access, r.grants().find_access_token(hash));
    if (!out.access) {
        ASSIGN_OR_RETURN(out.refresh, r.grants().find_refresh_token(hash));
    }
    std::string family_id = out.access    ? out.access->family_id
                            : out.refresh ? out.refresh->family_id
                                          : "";
    if (!family_id.empty()) {
        ASSIGN_OR_RETURN(out.family, r.grants().find_family(family_id));
    }
    return out;
}

/// The `token` parameter (required) of a revocation or introspection request.
Result<std::string> read_token(const http::Request& request, boost::json::object& body) {
    ASSIGN_OR_RETURN(body, http::parse_body(request));
    ASSIGN_OR_RETURN(auto token, http::string_field(body, "token"));
    if (!token || token->empty()) {
        return make_error(ErrorCode::invalid_request, "token is required");
    }
    return std::string(*token);
}

http::Response no_store(http::Response r) {
    r.set_header("Cache-Control", "no-store");
    return r;
}

} // namespace

http::Response handle_revoke(UnitOfWork& uow, const Clock& clock, const http::Request& request) {
    boost::json::object body;
    auto token = read_token(request, body);
    if (!token) {
        return http::error_response(http::Envelope::oauth, token.error());
    }
    auto client_id = http::string_field(body, "client_id");
    std::int64_t now = clock.now();
    auto done = uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, look_up(r, *token));
        if (!found.family) {
            return {};
        }
        // A client may revoke only its own tokens; another's are left alone, silently.
        if (client_id && *client_id && !(*client_id)->empty() &&
            **client_id != found.family->client_id) {
            return {};
        }
        if (found.refresh) {
            RETURN_IF_ERROR(r.grants().revoke_family(found.family->id, "revoked", now));
            return r.audit().record(audit::make_audit(
                "family.revoked",
                {"partner", found.family->user_id, found.family->client_id, request.remote_address},
                {{"family_id", found.family->id}, {"reason", "revoked"}}, now));
        }
        return r.grants().revoke_access_token(found.access->token_hash, now);
    });
    if (!done) {
        return http::error_response(http::Envelope::oauth, done.error());
    }
    return no_store(http::json_response(200, "{}"));
}

http::Response handle_introspect(UnitOfWork& uow, const Clock& clock, const Config& config,
                                 CredentialDescriber& others, const http::Request& request) {
    std::string presented(request.header("authorization").value_or(""));
    bool authorized =
        !config.introspection_token.empty() && presented.size() > 7 &&
        (presented.substr(0, 7) == "Bearer " || presented.substr(0, 7) == "bearer ") &&
        crypto::constant_time_equal(crypto::sha256_hex(presented.substr(7)),
                                    crypto::sha256_hex(config.introspection_token));
    if (!authorized) {
        auto r = http::json_response(
            401,
            R"({"error":"invalid_token","error_description":"Introspection requires the resource server's bearer token"})");
        r.set_header("WWW-Authenticate", "Bearer realm=\"introspection\"");
        return no_store(r);
    }
    boost::json::object body;
    auto token = read_token(request, body);
    if (!token) {
        return http::error_response(http::Envelope::oauth, token.error());
    }
    std::int64_t now = clock.now();
    boost::json::object out{{"active", false}};
    if (others.describes(*token)) {
        auto read = uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
            ASSIGN_OR_RETURN(out, others.describe(r, *token));
            return {};
        });
        if (!read) {
            return http::error_response(http::Envelope::oauth, read.error());
        }
        if (out.at("active").as_bool()) {
            out["iss"] = config.public_url;
        }
        return no_store(http::json_response(200, boost::json::serialize(out)));
    }
    auto read = uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, look_up(r, *token));
        if (!found.family || found.family->revoked_at) {
            return {};
        }
        ASSIGN_OR_RETURN(auto client, r.clients().find(found.family->client_id));
        if (!client || !client->is_active) {
            return {}; // a deactivated partner's tokens do not work, so they are not active
        }
        std::int64_t iat = 0;
        std::int64_t exp = 0;
        std::string type;
        if (found.access) {
            if (found.access->revoked_at || found.access->expires_at <= now) {
                return {};
            }
            iat = found.access->created_at;
            exp = found.access->expires_at;
            type = "access_token";
        } else {
            if (found.refresh->revoked_at || found.refresh->rotated_at ||
                found.refresh->expires_at <= now) {
                return {};
            }
            iat = found.refresh->created_at;
            exp = found.refresh->expires_at;
            type = "refresh_token";
        }
        boost::json::array projects;
        for (auto id : found.family->project_ids) {
            projects.emplace_back(id);
        }
        out = {{"active", true},
               {"scope", join(found.family->scopes, " ")},
               {"client_id", found.family->client_id},
               {"sub", found.family->user_id},
               {"token_type", type == "access_token" ? "Bearer" : "refresh_token"},
               {"iat", iat},
               {"exp", exp},
               {"iss", config.public_url},
               {"organization_id", found.family->organization_id},
               {"project_ids", projects}};
        return {};
    });
    if (!read) {
        return http::error_response(http::Envelope::oauth, read.error());
    }
    return no_store(http::json_response(200, boost::json::serialize(out)));
}

} // namespace provisiond::oauth
