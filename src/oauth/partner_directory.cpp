#include "oauth/partner_directory.hpp"

#include "oauth/client_repository.hpp"

namespace provisiond::oauth {

Error unknown_client_error() {
    return make_error(ErrorCode::unauthorized,
                      "Authentication failed: unknown or disabled client_id");
}

Result<PartnerLookup> RegisteredPartners::find_partner(std::string_view client_id,
                                                       std::string_view) {
    std::optional<OAuthClient> client;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, r.clients().find(client_id));
        client = found;
        return {};
    }));
    if (!client) {
        return unknown_client_error();
    }
    return PartnerLookup{PartnerLookup::Kind::found, *client, 0};
}

} // namespace provisiond::oauth
