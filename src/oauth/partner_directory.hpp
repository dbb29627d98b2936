#pragma once
// Finds the partner behind a client_id. Operator-registered clients are rows in the database;
// metadata-document clients (docs/CIMD.md) may first have to be fetched, which happens in the
// background while the caller is told to retry.

#include "core/error.hpp"
#include "core/unit_of_work.hpp"
#include "oauth/client.hpp"

namespace provisiond::oauth {

struct PartnerLookup {
    enum class Kind { found, registering };
    Kind kind = Kind::found;
    OAuthClient client;                   ///< when found (it may be inactive: the caller decides)
    std::int64_t retry_after_seconds = 0; ///< when registering
};

class PartnerDirectory {
public:
    virtual ~PartnerDirectory() = default;
    /// Fails with unauthorized for an unknown client, rate_limited when a new registration is
    /// over its limits.
    virtual Result<PartnerLookup> find_partner(std::string_view client_id,
                                               std::string_view remote_address) = 0;
};

/// Only the clients already in the database.
class RegisteredPartners final : public PartnerDirectory {
public:
    explicit RegisteredPartners(UnitOfWork& uow) : uow_(uow) {}
    Result<PartnerLookup> find_partner(std::string_view client_id,
                                       std::string_view remote_address) override;

private:
    UnitOfWork& uow_;
};

/// "Authentication failed: unknown or disabled client_id" — one message for both, so that a
/// caller cannot tell which client ids exist.
Error unknown_client_error();

} // namespace provisiond::oauth
