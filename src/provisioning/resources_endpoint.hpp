#pragma once

#include "core/clock.hpp"
#include "http/message.hpp"
#include "provisioning/resources.hpp"

namespace provisiond::provisioning {

/// The resource endpoints' wire side: bearer, API-Version, body, envelopes.
class ResourcesEndpoint {
public:
    ResourcesEndpoint(ResourceService& service, UnitOfWork& uow, const Clock& clock)
        : service_(service), uow_(uow), clock_(clock) {}

    http::Response create(const http::Request& request);
    http::Response get(const http::Request& request);
    http::Response rotate(const http::Request& request);
    http::Response remove(const http::Request& request);

private:
    /// Bearer, then API-Version (E2 order). On failure, the response to send.
    Result<oauth::BearerContext> authorize(const http::Request& request,
                                           std::optional<http::Response>& refused);

    ResourceService& service_;
    UnitOfWork& uow_;
    const Clock& clock_;
};

} // namespace provisiond::provisioning
