// provisioning::ProvisioningRepository on every backend: idempotency records of account requests,
// pending consents, project bindings, provisioned services and personal API keys.
#include "backend_fixture.hpp"

namespace provisiond::conformance {
namespace {

using provisioning::AccountRequestRecord;
using provisioning::PendingConsent;
using provisioning::PersonalApiKey;

class ProvisioningRepositoryTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        w_ = seed_world();
    }

    AccountRequestRecord record(const std::string& request_id) {
        AccountRequestRecord a;
        a.client_id = w_.client_id;
        a.request_id = request_id;
        a.email_normalized = w_.email;
        a.code_challenge = "challenge-" + request_id;
        a.outcome = "oauth";
        a.user_id = w_.user_id;
        a.organization_id = w_.organization_id;
        a.project_id = w_.project_id;
        a.code_hash = "code-" + request_id;
        a.created_at = 1000;
        return a;
    }

    std::optional<AccountRequestRecord> find_record(const std::string& client,
                                                    const std::string& request_id) {
        auto found = read([&](Repositories& r) {
            return r.provisioning().find_account_request(client, request_id);
        });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    PendingConsent consent(const std::string& state_hash, const std::string& email) {
        PendingConsent p;
        p.state_hash = state_hash;
        p.client_id = w_.client_id;
        p.email_normalized = email;
        p.user_id = w_.user_id;
        p.scopes = {"project:read", "user:read"};
        p.region = "EU";
        p.code_challenge = "challenge";
        p.code_challenge_method = "S256";
        p.created_at = 1000;
        p.expires_at = 1900;
        return p;
    }

    std::optional<PendingConsent> find_consent(const std::string& state_hash) {
        auto found =
            read([&](Repositories& r) { return r.browser().find_pending_consent(state_hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    PersonalApiKey key(const std::string& id, const std::string& hash) {
        PersonalApiKey k;
        k.id = id;
        k.key_hash = hash;
        k.mask = "phx_...abcd";
        k.label = "MCP server: “my laptop”";
        k.scopes = {"feature_flag:read", "project:read"};
        k.user_id = w_.user_id;
        k.organization_id = w_.organization_id;
        k.project_id = w_.project_id;
        k.client_id = w_.client_id;
        k.created_at = 1000;
        return k;
    }

    std::optional<PersonalApiKey> find_key(const std::string& hash) {
        auto found =
            read([&](Repositories& r) { return r.provisioning().find_personal_api_key(hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    World w_;
};

TEST_P(ProvisioningRepositoryTest, AccountRequestRecordRoundTripsEveryField) {
    AccountRequestRecord a = record("req-1");
    ASSERT_OK(write([&](Repositories& r) { return r.provisioning().save_account_request(a); }));
    auto found = find_record(w_.client_id, "req-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->client_id, a.client_id);
    EXPECT_EQ(found->request_id, "req-1");
    EXPECT_EQ(found->email_normalized, a.email_normalized);
    EXPECT_EQ(found->code_challenge, a.code_challenge);
    EXPECT_EQ(found->outcome, "oauth");
    EXPECT_EQ(found->user_id, a.user_id);
    EXPECT_EQ(found->organization_id, a.organization_id);
    EXPECT_EQ(found->project_id, a.project_id);
    EXPECT_EQ(found->code_hash, a.code_hash);
    EXPECT_EQ(found->created_at, 1000);
}

TEST_P(ProvisioningRepositoryTest, RequiresAuthRecordRoundTripsItsUnsetFields) {
    AccountRequestRecord a = record("req-1");
    a.outcome = "requires_auth";
    a.organization_id.reset();
    a.project_id.reset();
    a.code_hash.reset();
    ASSERT_OK(write([&](Repositories& r) { return r.provisioning().save_account_request(a); }));
    auto found = find_record(w_.client_id, "req-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->outcome, "requires_auth");
    EXPECT_EQ(found->organization_id, std::nullopt);
    EXPECT_EQ(found->project_id, std::nullopt);
    EXPECT_EQ(found->code_hash, std::nullopt);
}

TEST_P(ProvisioningRepositoryTest, SavingAnAccountRequestAgainReplacesIt) {
    ASSERT_OK(write(
        [&](Repositories& r) { return r.provisioning().save_account_request(record("req-1")); }));
    AccountRequestRecord again = record("req-1");
    again.outcome = "requires_auth";
    again.code_challenge = "other";
    again.organization_id.reset();
    again.project_id.reset();
    again.code_hash = "newer-code";
    again.created_at = 2000;
    ASSERT_OK(write([&](Repositories& r) { return r.provisioning().save_account_request(again); }));
    auto found = find_record(w_.client_id, "req-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->outcome, "requires_auth");
    EXPECT_EQ(found->code_challenge, "other");
    EXPECT_EQ(found->organization_id, std::nullopt);
    EXPECT_EQ(found->project_id, std::nullopt);
    EXPECT_EQ(found->code_hash, "newer-code");
    EXPECT_EQ(found->created_at, 2000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM account_requests"), 1);
}

TEST_P(ProvisioningRepositoryTest, AccountRequestsAreKeyedByClientAndRequestId) {
    AccountRequestRecord mine = record("req-1");
    AccountRequestRecord theirs = record("req-1");
    theirs.client_id = "another-client";
    theirs.code_hash = "theirs";
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.provisioning().save_account_request(mine));
        return r.provisioning().save_account_request(theirs);
    }));
    EXPECT_EQ(find_record(w_.client_id, "req-1")->code_hash, "code-req-1");
    EXPECT_EQ(find_record("another-client", "req-1")->code_hash, "theirs");
    EXPECT_EQ(find_record(w_.client_id, "req-2"), std::nullopt);
    EXPECT_EQ(find_record("nobody", "req-1"), std::nullopt);
}

TEST_P(ProvisioningRepositoryTest, PendingConsentRoundTripsEveryField) {
    PendingConsent p = consent("st-1", w_.email);
    ASSERT_OK(write([&](Repositories& r) { return r.provisioning().replace_pending_consent(p); }));
    auto found = find_consent("st-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->state_hash, "st-1");
    EXPECT_EQ(found->client_id, p.client_id);
    EXPECT_EQ(found->email_normalized, p.email_normalized);
    EXPECT_EQ(found->user_id, p.user_id);
    EXPECT_EQ(found->scopes, p.scopes);
    EXPECT_EQ(found->region, "EU");
    EXPECT_EQ(found->code_challenge, "challenge");
    EXPECT_EQ(found->code_challenge_method, "S256");
    EXPECT_EQ(found->created_at, 1000);
    EXPECT_EQ(found->expires_at, 1900);
}

TEST_P(ProvisioningRepositoryTest, OnlyTheNewestPendingConsentOfAClientAndEmailRemains) {
    World other = seed_world("-2");
    PendingConsent other_client = consent("st-other-client", w_.email);
    other_client.client_id = other.client_id;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& p = r.provisioning();
        RETURN_IF_ERROR(p.replace_pending_consent(consent("st-1", w_.email)));
        RETURN_IF_ERROR(p.replace_pending_consent(consent("st-other-email", "else@example.com")));
        return p.replace_pending_consent(other_client);
    }));
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().replace_pending_consent(consent("st-2", w_.email));
    }));
    EXPECT_EQ(find_consent("st-1"), std::nullopt) << "replaced";
    EXPECT_TRUE(find_consent("st-2"));
    EXPECT_TRUE(find_consent("st-other-email"));
    EXPECT_TRUE(find_consent("st-other-client"));
}

TEST_P(ProvisioningRepositoryTest, PendingConsentStateIsUniqueAndNeedsItsClient) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().replace_pending_consent(consent("st-1", w_.email));
    }));
    // The same state for another email: the state hash is the key.
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().replace_pending_consent(consent("st-1", "else@example.com"));
    }));
    PendingConsent orphan = consent("st-2", w_.email);
    orphan.client_id = "nobody";
    EXPECT_CONFLICT(
        write([&](Repositories& r) { return r.provisioning().replace_pending_consent(orphan); }));
}

TEST_P(ProvisioningRepositoryTest, BindingIsFoundAndUniquePerClient) {
    World other = seed_world("-2");
    auto find = [&](const std::string& client, const std::string& external) {
        auto found =
            read([&](Repositories& r) { return r.provisioning().find_binding(client, external); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    };
    EXPECT_EQ(find(w_.client_id, "ext-1"), std::nullopt);
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().insert_binding(w_.client_id, "ext-1", w_.project_id);
    }));
    EXPECT_EQ(find(w_.client_id, "ext-1"), w_.project_id);
    EXPECT_EQ(find(w_.client_id, "EXT-1"), std::nullopt);
    EXPECT_EQ(find(other.client_id, "ext-1"), std::nullopt);
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().insert_binding(w_.client_id, "ext-1", other.project_id);
    }));
    EXPECT_EQ(find(w_.client_id, "ext-1"), w_.project_id);
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().insert_binding(other.client_id, "ext-1", other.project_id);
    }));
    EXPECT_EQ(find(other.client_id, "ext-1"), other.project_id);
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().insert_binding(w_.client_id, "ext-2", w_.project_id + 1000);
    })) << "the project must exist";
}

TEST_P(ProvisioningRepositoryTest, ServiceIsSavedReplacedAndForgottenOnlyByItsClient) {
    auto find = [&](std::int64_t project) {
        auto found = read([&](Repositories& r) { return r.provisioning().find_service(project); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    };
    EXPECT_EQ(find(w_.project_id), std::nullopt);
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().save_service(w_.project_id, w_.client_id, "svc-1", 1000);
    }));
    EXPECT_EQ(find(w_.project_id), "svc-1");
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().save_service(w_.project_id, w_.client_id, "svc-2", 1100);
    }));
    EXPECT_EQ(find(w_.project_id), "svc-2");
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM project_provisioning"), 1);
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().delete_service(w_.project_id, "another-client");
    }));
    EXPECT_EQ(find(w_.project_id), "svc-2") << "another partner cannot forget it";
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().delete_service(w_.project_id, w_.client_id);
    }));
    EXPECT_EQ(find(w_.project_id), std::nullopt);
    EXPECT_OK(write([&](Repositories& r) {
        return r.provisioning().delete_service(w_.project_id, w_.client_id);
    }));
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().save_service(w_.project_id + 1000, w_.client_id, "svc", 1);
    })) << "the project must exist";
}

TEST_P(ProvisioningRepositoryTest, PersonalApiKeyRoundTripsEveryField) {
    PersonalApiKey k = key("key-1", "hash-1");
    ASSERT_OK(write([&](Repositories& r) { return r.provisioning().insert_personal_api_key(k); }));
    auto found = find_key("hash-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, "key-1");
    EXPECT_EQ(found->key_hash, "hash-1");
    EXPECT_EQ(found->mask, k.mask);
    EXPECT_EQ(found->label, k.label);
    EXPECT_EQ(found->scopes, k.scopes);
    EXPECT_EQ(found->user_id, w_.user_id);
    EXPECT_EQ(found->organization_id, w_.organization_id);
    EXPECT_EQ(found->project_id, w_.project_id);
    EXPECT_EQ(found->client_id, w_.client_id);
    EXPECT_EQ(found->created_at, 1000);
    EXPECT_EQ(found->revoked_at, std::nullopt);
    EXPECT_EQ(find_key("hash-2"), std::nullopt);
}

TEST_P(ProvisioningRepositoryTest, PersonalApiKeyIdAndHashAreUnique) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().insert_personal_api_key(key("key-1", "hash-1"));
    }));
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().insert_personal_api_key(key("key-2", "hash-1"));
    }));
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.provisioning().insert_personal_api_key(key("key-1", "hash-2"));
    }));
}

TEST_P(ProvisioningRepositoryTest, RevokedPersonalApiKeyIsStillFound) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().insert_personal_api_key(key("key-1", "hash-1"));
    }));
    auto revoked =
        write([&](Repositories& r) { return r.browser().revoke_key("key-1", w_.user_id, 1500); });
    ASSERT_OK(revoked);
    ASSERT_TRUE(*revoked);
    auto found = find_key("hash-1");
    ASSERT_TRUE(found) << "introspection must still find it to say it is inactive";
    EXPECT_EQ(found->revoked_at, 1500);
}

INSTANTIATE_TEST_SUITE_P(Backends, ProvisioningRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
