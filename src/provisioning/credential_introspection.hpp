#pragma once
// RFC 7662 answers for the credentials provisioning issues: personal API keys (phx_) and
// project tokens (phc_). oauth::handle_introspect asks this for tokens of those kinds.

#include "oauth/revocation_endpoint.hpp"

namespace provisiond::provisioning {

class ProvisioningCredentials final : public oauth::CredentialDescriber {
public:
    bool describes(std::string_view token) const override;
    Result<boost::json::object> describe(Repositories& r, const std::string& token) override;
};

} // namespace provisiond::provisioning
