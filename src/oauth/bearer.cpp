#include "oauth/bearer.hpp"

#include "crypto/crypto.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"

#include <boost/algorithm/string/predicate.hpp>

namespace provisiond::oauth {

Result<BearerContext> authenticate_bearer(UnitOfWork& uow, const Clock& clock,
                                          std::string_view header) {
    constexpr std::string_view scheme = "bearer ";
    while (!header.empty() && header.front() == ' ') {
        header.remove_prefix(1);
    }
    if (header.size() <= scheme.size() || !boost::algorithm::istarts_with(header, scheme)) {
        return make_error(
            ErrorCode::unauthorized,
            "Missing bearer token: send Authorization: Bearer <access_token from /oauth/token>");
    }
    std::string_view token = header.substr(scheme.size());
    while (!token.empty() && (token.front() == ' ' || token.back() == ' ')) {
        token = token.front() == ' ' ? token.substr(1) : token.substr(0, token.size() - 1);
    }
    if (token.empty()) {
        return make_error(
            ErrorCode::unauthorized,
            "Missing bearer token: send Authorization: Bearer <access_token from /oauth/token>");
    }
    const std::int64_t now = clock.now();
    std::optional<BearerContext> context;
    std::optional<Error> refused;
    RETURN_IF_ERROR(uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        std::string hash = crypto::sha256_hex(token);
        ASSIGN_OR_RETURN(auto access, r.grants().find_access_token(hash));
        if (!access || access->revoked_at) {
            refused = make_error(ErrorCode::unauthorized, "Invalid access token");
            return {};
        }
        if (access->expires_at <= now) {
            refused = make_error(ErrorCode::unauthorized, "Access token expired");
            return {};
        }
        ASSIGN_OR_RETURN(auto family, r.grants().find_family(access->family_id));
        if (!family || family->revoked_at) {
            refused = make_error(ErrorCode::unauthorized, "Invalid access token");
            return {};
        }
        ASSIGN_OR_RETURN(auto client, r.clients().find(family->client_id));
        if (!client || !client->is_active) {
            refused = make_error(ErrorCode::unauthorized, "Partner is deactivated");
            return {};
        }
        if (!client->can_provision_resources) {
            refused = make_error(ErrorCode::forbidden,
                                 "Resource provisioning not enabled for this partner");
            return {};
        }
        context = BearerContext{hash, *family, *client};
        return {};
    }));
    if (refused) {
        return *refused;
    }
    return *context;
}

} // namespace provisiond::oauth
