#pragma once

#include "core/error.hpp"
#include "provisioning/records.hpp"

namespace provisiond::provisioning {

class ProvisioningRepository {
public:
    virtual ~ProvisioningRepository() = default;
    virtual Result<std::optional<AccountRequestRecord>>
    find_account_request(std::string_view client_id, std::string_view request_id) = 0;
    /// Inserts or replaces the record for (client_id, request_id).
    virtual Result<void> save_account_request(const AccountRequestRecord& record) = 0;

    /// Stores a pending consent and deletes every older one for the same client and email,
    /// so only the newest consent URL works.
    virtual Result<void> replace_pending_consent(const PendingConsent& consent) = 0;

    virtual Result<std::optional<std::int64_t>> find_binding(std::string_view client_id,
                                                             std::string_view external_id) = 0;
    /// Fails with ErrorCode::conflict when the external id is already bound.
    virtual Result<void> insert_binding(std::string_view client_id, std::string_view external_id,
                                        std::int64_t project_id) = 0;

    virtual Result<void> save_service(std::int64_t project_id, std::string_view client_id,
                                      std::string_view service_id, std::int64_t now) = 0;
    virtual Result<std::optional<std::string>> find_service(std::int64_t project_id) = 0;
    /// Forgets the project's provisioning record when it is unclaimed or claimed by `client_id`.
    virtual Result<void> delete_service(std::int64_t project_id, std::string_view client_id) = 0;

    virtual Result<void> insert_personal_api_key(const PersonalApiKey& key) = 0;
    /// The key with this SHA-256 (revoked ones too: introspection says they are inactive).
    virtual Result<std::optional<PersonalApiKey>>
    find_personal_api_key(std::string_view key_hash) = 0;
};

} // namespace provisiond::provisioning
