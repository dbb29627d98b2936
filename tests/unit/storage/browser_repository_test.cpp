// web::BrowserRepository on every backend: sessions, single-use links and reveals, consents
// waiting for approval, and what the dashboard lists and revokes.
#include "backend_fixture.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

using web::AuthorizationRequest;
using web::DeepLink;
using web::Reveal;
using web::Session;

class BrowserRepositoryTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        w_ = seed_world();
    }

    std::optional<Session> find_session(const std::string& id_hash) {
        auto found = read([&](Repositories& r) { return r.browser().find_session(id_hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    AuthorizationRequest request(const std::string& state_hash, std::int64_t expires_at = 1600) {
        AuthorizationRequest a;
        a.state_hash = state_hash;
        a.client_id = w_.client_id;
        a.redirect_uri = "https://partner.example/cb";
        a.client_state = "xyz&state=1";
        a.scopes = {"project:read", "user:read"};
        a.code_challenge = "challenge";
        a.created_at = 1000;
        a.expires_at = expires_at;
        a.redirect_uri_sent = true;
        return a;
    }
    std::optional<AuthorizationRequest> find_request(const std::string& state_hash) {
        auto found = read(
            [&](Repositories& r) { return r.browser().find_authorization_request(state_hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    DeepLink link(const std::string& hash, std::int64_t expires_at = 1300) {
        DeepLink d;
        d.token_hash = hash;
        d.user_id = w_.user_id;
        d.client_id = w_.client_id;
        d.project_id = w_.project_id;
        d.purpose = "login";
        d.path = "/project/1/insights?tab=trends";
        d.created_at = 1000;
        d.expires_at = expires_at;
        return d;
    }
    std::optional<DeepLink> consume_link(const std::string& hash, std::int64_t now) {
        auto found =
            write([&](Repositories& r) { return r.browser().consume_deep_link(hash, now); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    std::optional<Reveal> take_reveal(const std::string& key_hash, const std::string& user,
                                      std::int64_t now) {
        auto found =
            write([&](Repositories& r) { return r.browser().take_reveal(key_hash, user, now); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }

    provisioning::PendingConsent consent(const std::string& state_hash, const std::string& email,
                                         const std::string& client_id) {
        provisioning::PendingConsent p;
        p.state_hash = state_hash;
        p.client_id = client_id;
        p.email_normalized = email;
        p.user_id = w_.user_id;
        p.scopes = {"user:read"};
        p.region = "US";
        p.code_challenge = "challenge";
        p.code_challenge_method = "S256";
        p.created_at = 1000;
        p.expires_at = 1600;
        return p;
    }

    provisioning::PersonalApiKey key(const std::string& id, const std::string& user,
                                     const std::string& client, std::int64_t created_at) {
        provisioning::PersonalApiKey k;
        k.id = id;
        k.key_hash = "hash-" + id;
        k.mask = "phx_...";
        k.label = "label " + id;
        k.scopes = {"project:read"};
        k.user_id = user;
        k.organization_id = w_.organization_id;
        k.project_id = w_.project_id;
        k.client_id = client;
        k.created_at = created_at;
        return k;
    }

    oauth::TokenFamily family(const std::string& id, const std::string& client_id,
                              std::int64_t created_at) {
        oauth::TokenFamily f;
        f.id = id;
        f.client_id = client_id;
        f.user_id = w_.user_id;
        f.organization_id = w_.organization_id;
        f.scopes = {"user:read"};
        f.project_ids = {w_.project_id};
        f.created_at = created_at;
        return f;
    }

    World w_;
};

TEST_P(BrowserRepositoryTest, SessionRoundTripsAndIsTouched) {
    Session s{"sid-1", w_.user_id, 1000, 1000, 1000 + 30 * 86'400};
    ASSERT_OK(write([&](Repositories& r) { return r.browser().insert_session(s); }));
    auto got = find_session("sid-1");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id_hash, "sid-1");
    EXPECT_EQ(got->user_id, w_.user_id);
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(got->last_seen_at, 1000);
    EXPECT_EQ(got->expires_at, s.expires_at);
    ASSERT_OK(write([&](Repositories& r) { return r.browser().touch_session("sid-1", 1500); }));
    got = find_session("sid-1");
    EXPECT_EQ(got->last_seen_at, 1500);
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(got->expires_at, s.expires_at);
    EXPECT_EQ(find_session("sid-2"), std::nullopt);
    EXPECT_OK(write([&](Repositories& r) { return r.browser().touch_session("sid-2", 1500); }));
}

TEST_P(BrowserRepositoryTest, SessionIsUniqueAndBelongsToAUser) {
    Session s{"sid-1", w_.user_id, 1000, 1000, 5000};
    ASSERT_OK(write([&](Repositories& r) { return r.browser().insert_session(s); }));
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.browser().insert_session(s); }));
    Session orphan{"sid-2", "u-404", 1000, 1000, 5000};
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.browser().insert_session(orphan); }));
}

TEST_P(BrowserRepositoryTest, SessionsAreDeletedOneOrAllOfAUser) {
    World other = seed_world("-2");
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& b = r.browser();
        RETURN_IF_ERROR(b.insert_session({"sid-1", w_.user_id, 1, 1, 5000}));
        RETURN_IF_ERROR(b.insert_session({"sid-2", w_.user_id, 1, 1, 5000}));
        RETURN_IF_ERROR(b.insert_session({"sid-3", w_.user_id, 1, 1, 5000}));
        return b.insert_session({"sid-other", other.user_id, 1, 1, 5000});
    }));
    ASSERT_OK(write([&](Repositories& r) { return r.browser().delete_session("sid-1"); }));
    EXPECT_EQ(find_session("sid-1"), std::nullopt);
    EXPECT_TRUE(find_session("sid-2"));
    ASSERT_OK(write([&](Repositories& r) { return r.browser().delete_sessions_of(w_.user_id); }));
    EXPECT_EQ(find_session("sid-2"), std::nullopt);
    EXPECT_EQ(find_session("sid-3"), std::nullopt);
    EXPECT_TRUE(find_session("sid-other"));
    EXPECT_OK(write([&](Repositories& r) { return r.browser().delete_session("sid-1"); }));
}

TEST_P(BrowserRepositoryTest, PurgeExpiredDeletesWhatExpiredAtOrBeforeNow) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& b = r.browser();
        RETURN_IF_ERROR(b.insert_session({"sid-dead", w_.user_id, 1, 1, 1500}));
        RETURN_IF_ERROR(b.insert_session({"sid-live", w_.user_id, 1, 1, 1501}));
        RETURN_IF_ERROR(b.insert_authorization_request(request("ar-dead", 1500)));
        RETURN_IF_ERROR(b.insert_authorization_request(request("ar-live", 1501)));
        RETURN_IF_ERROR(b.insert_deep_link(link("dl-dead", 1500)));
        RETURN_IF_ERROR(b.insert_deep_link(link("dl-live", 1501)));
        RETURN_IF_ERROR(b.insert_reveal({"rv-dead", w_.user_id, "personal_api_key", "box", 1500}));
        return b.insert_reveal({"rv-live", w_.user_id, "personal_api_key", "box", 1501});
    }));
    ASSERT_OK(write([&](Repositories& r) { return r.browser().purge_expired(1500); }));
    EXPECT_EQ(find_session("sid-dead"), std::nullopt);
    EXPECT_TRUE(find_session("sid-live"));
    EXPECT_EQ(find_request("ar-dead"), std::nullopt);
    EXPECT_TRUE(find_request("ar-live"));
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM deep_links"), 1);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM reveals"), 1);
    EXPECT_TRUE(consume_link("dl-live", 1400));
    EXPECT_TRUE(take_reveal("rv-live", w_.user_id, 1400));
}

TEST_P(BrowserRepositoryTest, PasswordLinkIsConsumedOnce) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.accounts().replace_password_set_token("pw-1", w_.user_id, 1000, 2000);
    }));
    auto consume = [&](const std::string& hash, std::int64_t now) {
        auto owner =
            write([&](Repositories& r) { return r.browser().consume_password_link(hash, now); });
        EXPECT_OK(owner);
        return owner ? *owner : std::optional<std::string>("<error>");
    };
    EXPECT_EQ(consume("pw-1", 1500), w_.user_id);
    EXPECT_EQ(consume("pw-1", 1501), std::nullopt) << "single use";
    EXPECT_EQ(consume("pw-404", 1500), std::nullopt);
}

TEST_P(BrowserRepositoryTest, ExpiredPasswordLinkIsNotConsumed) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.accounts().replace_password_set_token("pw-1", w_.user_id, 1000, 2000);
    }));
    auto owner =
        write([&](Repositories& r) { return r.browser().consume_password_link("pw-1", 2000); });
    ASSERT_OK(owner);
    EXPECT_EQ(*owner, std::nullopt);
    auto live =
        read([&](Repositories& r) { return r.accounts().password_link_owner("pw-1", 1999); });
    ASSERT_OK(live);
    EXPECT_EQ(*live, w_.user_id) << "a refused consumption did not spend it";
}

TEST_P(BrowserRepositoryTest, SetPasswordStoresTheHashAndVerifiesTheEmail) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.browser().set_password(w_.user_id, "$argon2id$v=19$new");
    }));
    auto user = read([&](Repositories& r) { return r.accounts().find_user(w_.user_id); });
    ASSERT_OK(user);
    ASSERT_TRUE(user->has_value());
    EXPECT_EQ((*user)->password_hash, "$argon2id$v=19$new");
    EXPECT_TRUE((*user)->email_verified);
    EXPECT_OK(write([&](Repositories& r) { return r.browser().set_password("u-404", "x"); }));
}

TEST_P(BrowserRepositoryTest, PendingConsentIsFoundAndDeletedOnce) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.provisioning().replace_pending_consent(consent("st-1", w_.email, w_.client_id));
    }));
    auto found = read([&](Repositories& r) { return r.browser().find_pending_consent("st-1"); });
    ASSERT_OK(found);
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->user_id, w_.user_id);
    auto missing = read([&](Repositories& r) { return r.browser().find_pending_consent("st-2"); });
    ASSERT_OK(missing);
    EXPECT_FALSE(missing->has_value());
    auto deleted =
        write([&](Repositories& r) { return r.browser().delete_pending_consent("st-1"); });
    ASSERT_OK(deleted);
    EXPECT_TRUE(*deleted);
    deleted = write([&](Repositories& r) { return r.browser().delete_pending_consent("st-1"); });
    ASSERT_OK(deleted);
    EXPECT_FALSE(*deleted) << "approved or denied once";
}

TEST_P(BrowserRepositoryTest, AuthorizationRequestRoundTripsEveryField) {
    AuthorizationRequest a = request("ar-1");
    AuthorizationRequest bare = request("ar-2");
    bare.client_state.reset();
    bare.redirect_uri_sent = false;
    bare.scopes = {};
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.browser().insert_authorization_request(a));
        return r.browser().insert_authorization_request(bare);
    }));
    auto got = find_request("ar-1");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->state_hash, "ar-1");
    EXPECT_EQ(got->client_id, w_.client_id);
    EXPECT_EQ(got->redirect_uri, a.redirect_uri);
    EXPECT_EQ(got->client_state, "xyz&state=1");
    EXPECT_EQ(got->scopes, a.scopes);
    EXPECT_EQ(got->code_challenge, "challenge");
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(got->expires_at, 1600);
    EXPECT_TRUE(got->redirect_uri_sent);
    got = find_request("ar-2");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->client_state, std::nullopt);
    EXPECT_FALSE(got->redirect_uri_sent);
    EXPECT_TRUE(got->scopes.empty());
    EXPECT_EQ(find_request("ar-3"), std::nullopt);
}

TEST_P(BrowserRepositoryTest, AuthorizationRequestIsUniqueAndDeletedOnce) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.browser().insert_authorization_request(request("ar-1"));
    }));
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.browser().insert_authorization_request(request("ar-1"));
    }));
    AuthorizationRequest orphan = request("ar-2");
    orphan.client_id = "nobody";
    EXPECT_CONFLICT(
        write([&](Repositories& r) { return r.browser().insert_authorization_request(orphan); }));
    auto deleted =
        write([&](Repositories& r) { return r.browser().delete_authorization_request("ar-1"); });
    ASSERT_OK(deleted);
    EXPECT_TRUE(*deleted);
    deleted =
        write([&](Repositories& r) { return r.browser().delete_authorization_request("ar-1"); });
    ASSERT_OK(deleted);
    EXPECT_FALSE(*deleted);
}

TEST_P(BrowserRepositoryTest, DeepLinkIsConsumedOnceWithEveryField) {
    DeepLink bare = link("dl-2");
    bare.project_id.reset();
    bare.path.reset();
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.browser().insert_deep_link(link("dl-1")));
        return r.browser().insert_deep_link(bare);
    }));
    auto got = consume_link("dl-1", 1100);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->token_hash, "dl-1");
    EXPECT_EQ(got->user_id, w_.user_id);
    EXPECT_EQ(got->client_id, w_.client_id);
    EXPECT_EQ(got->project_id, w_.project_id);
    EXPECT_EQ(got->purpose, "login");
    EXPECT_EQ(got->path, "/project/1/insights?tab=trends");
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(got->expires_at, 1300);
    EXPECT_EQ(consume_link("dl-1", 1101), std::nullopt) << "single use";
    got = consume_link("dl-2", 1100);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->project_id, std::nullopt);
    EXPECT_EQ(got->path, std::nullopt);
    EXPECT_EQ(consume_link("dl-404", 1100), std::nullopt);
    EXPECT_CONFLICT(
        write([&](Repositories& r) { return r.browser().insert_deep_link(link("dl-1")); }));
}

TEST_P(BrowserRepositoryTest, ExpiredDeepLinkIsNotConsumed) {
    ASSERT_OK(
        write([&](Repositories& r) { return r.browser().insert_deep_link(link("dl-1", 1300)); }));
    EXPECT_EQ(consume_link("dl-1", 1300), std::nullopt);
    EXPECT_EQ(consume_link("dl-1", 1400), std::nullopt);
    ASSERT_OK(
        write([&](Repositories& r) { return r.browser().insert_deep_link(link("dl-2", 1300)); }));
    EXPECT_TRUE(consume_link("dl-2", 1299));
}

TEST_P(BrowserRepositoryTest, RevealIsTakenOnceByItsOwnerBeforeItExpires) {
    World other = seed_world("-2");
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.browser().insert_reveal(
            {"rv-1", w_.user_id, "verification_token", "sealed:box/+=", 1300}));
        return r.browser().insert_reveal({"rv-2", w_.user_id, "personal_api_key", "b", 1300});
    }));
    EXPECT_EQ(take_reveal("rv-1", other.user_id, 1100), std::nullopt) << "not theirs";
    auto got = take_reveal("rv-1", w_.user_id, 1100);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->key_hash, "rv-1");
    EXPECT_EQ(got->user_id, w_.user_id);
    EXPECT_EQ(got->kind, "verification_token");
    EXPECT_EQ(got->box, "sealed:box/+=");
    EXPECT_EQ(got->expires_at, 1300);
    EXPECT_EQ(take_reveal("rv-1", w_.user_id, 1101), std::nullopt) << "a second look finds nothing";
    EXPECT_EQ(take_reveal("rv-2", w_.user_id, 1300), std::nullopt) << "expired";
    EXPECT_EQ(take_reveal("rv-404", w_.user_id, 1100), std::nullopt);
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.browser().insert_reveal({"rv-2", w_.user_id, "personal_api_key", "b", 1300});
    }));
}

TEST_P(BrowserRepositoryTest, RetiringAPartnersDeepLinksSpendsOnlyItsUnusedOnes) {
    World other = seed_world("-2");
    DeepLink theirs = link("dl-other");
    theirs.client_id = other.client_id;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& b = r.browser();
        RETURN_IF_ERROR(b.insert_deep_link(link("dl-1")));
        RETURN_IF_ERROR(b.insert_deep_link(link("dl-2")));
        RETURN_IF_ERROR(b.insert_deep_link(link("dl-used")));
        return b.insert_deep_link(theirs);
    }));
    ASSERT_TRUE(consume_link("dl-used", 1050));
    auto n = write([&](Repositories& r) {
        return r.browser().retire_deep_links_of_client(w_.client_id, 1100);
    });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 2);
    EXPECT_EQ(consume_link("dl-1", 1150), std::nullopt);
    EXPECT_EQ(consume_link("dl-2", 1150), std::nullopt);
    EXPECT_TRUE(consume_link("dl-other", 1150));
}

TEST_P(BrowserRepositoryTest, WithdrawingAPartnersConsentsCountsBothKinds) {
    World other = seed_world("-2");
    AuthorizationRequest theirs = request("ar-other");
    theirs.client_id = other.client_id;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& p = r.provisioning();
        RETURN_IF_ERROR(p.replace_pending_consent(consent("st-1", "a@example.com", w_.client_id)));
        RETURN_IF_ERROR(p.replace_pending_consent(consent("st-2", "b@example.com", w_.client_id)));
        RETURN_IF_ERROR(
            p.replace_pending_consent(consent("st-other", "a@example.com", other.client_id)));
        RETURN_IF_ERROR(r.browser().insert_authorization_request(request("ar-1")));
        return r.browser().insert_authorization_request(theirs);
    }));
    auto n = write(
        [&](Repositories& r) { return r.browser().withdraw_consents_of_client(w_.client_id); });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 3);
    EXPECT_EQ(find_request("ar-1"), std::nullopt);
    EXPECT_TRUE(find_request("ar-other"));
    auto kept = read([&](Repositories& r) { return r.browser().find_pending_consent("st-other"); });
    ASSERT_OK(kept);
    EXPECT_TRUE(kept->has_value());
    n = write(
        [&](Repositories& r) { return r.browser().withdraw_consents_of_client(w_.client_id); });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 0);
}

TEST_P(BrowserRepositoryTest, RevokingAPartnersKeysCountsOnlyLiveOnes) {
    World other = seed_world("-2");
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& p = r.provisioning();
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-1", w_.user_id, w_.client_id, 1)));
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-2", other.user_id, w_.client_id, 2)));
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-gone", w_.user_id, w_.client_id, 3)));
        return p.insert_personal_api_key(key("k-other", w_.user_id, other.client_id, 4));
    }));
    ASSERT_OK(
        write([&](Repositories& r) { return r.browser().revoke_key("k-gone", w_.user_id, 50); }));
    auto n = write(
        [&](Repositories& r) { return r.browser().revoke_keys_of_client(w_.client_id, 100); });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 2);
    auto find = [&](const std::string& hash) {
        auto k =
            read([&](Repositories& r) { return r.provisioning().find_personal_api_key(hash); });
        EXPECT_OK(k);
        return k && *k ? (*k)->revoked_at : std::optional<std::int64_t>(-1);
    };
    EXPECT_EQ(find("hash-k-1"), 100);
    EXPECT_EQ(find("hash-k-2"), 100);
    EXPECT_EQ(find("hash-k-gone"), 50);
    EXPECT_EQ(find("hash-k-other"), std::nullopt);
}

TEST_P(BrowserRepositoryTest, ProjectsOfUserWithOrganizationNameAndRole) {
    seed_organization("o-2", "Beta", 5);
    std::int64_t beta_project = 0;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(
            r.accounts().insert_membership("o-2", w_.user_id, accounts::Role::member, 9));
        auto p = r.accounts().insert_project("o-2", "Beta project", "phc_beta", 7);
        if (!p) {
            return p.error();
        }
        beta_project = p->id;
        return {};
    }));
    auto second = write([&](Repositories& r) {
        return r.accounts().insert_project(w_.organization_id, "Second", "phc_second", 8);
    });
    ASSERT_OK(second);
    auto views = read([&](Repositories& r) { return r.browser().projects_of_user(w_.user_id); });
    ASSERT_OK(views);
    ASSERT_EQ(views->size(), 3u);
    // The oldest organization first (the world's, created at 1, before Beta at 5), then by id.
    EXPECT_EQ((*views)[0].project.id, w_.project_id);
    EXPECT_EQ((*views)[0].project.organization_id, w_.organization_id);
    EXPECT_EQ((*views)[0].project.name, "Project");
    EXPECT_EQ((*views)[0].project.api_token, "phc_token");
    EXPECT_EQ((*views)[0].project.created_at, 1);
    EXPECT_EQ((*views)[0].organization_name, "Organization");
    EXPECT_EQ((*views)[0].role, "owner");
    EXPECT_EQ((*views)[1].project.id, second->id);
    EXPECT_EQ((*views)[2].project.id, beta_project);
    EXPECT_EQ((*views)[2].project.name, "Beta project");
    EXPECT_EQ((*views)[2].organization_name, "Beta");
    EXPECT_EQ((*views)[2].role, "member");
    auto none = read([&](Repositories& r) { return r.browser().projects_of_user("u-404"); });
    ASSERT_OK(none);
    EXPECT_TRUE(none->empty());
}

TEST_P(BrowserRepositoryTest, LiveKeysOfUserNewestFirstAndRevokedByTheirOwnerOnly) {
    World other = seed_world("-2");
    provisioning::PersonalApiKey pasted = key("k-pasted", w_.user_id, "", 20);
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& p = r.provisioning();
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-b", w_.user_id, w_.client_id, 30)));
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-a", w_.user_id, w_.client_id, 30)));
        RETURN_IF_ERROR(p.insert_personal_api_key(pasted));
        RETURN_IF_ERROR(p.insert_personal_api_key(key("k-old", w_.user_id, w_.client_id, 10)));
        return p.insert_personal_api_key(key("k-theirs", other.user_id, w_.client_id, 40));
    }));
    auto ids = [&] {
        auto keys =
            read([&](Repositories& r) { return r.browser().live_keys_of_user(w_.user_id); });
        EXPECT_OK(keys);
        std::vector<std::string> out;
        if (keys) {
            for (const auto& k : *keys) {
                out.push_back(k.id);
            }
        }
        return out;
    };
    EXPECT_EQ(ids(), (std::vector<std::string>{"k-a", "k-b", "k-pasted", "k-old"}));
    auto keys = read([&](Repositories& r) { return r.browser().live_keys_of_user(w_.user_id); });
    ASSERT_OK(keys);
    EXPECT_EQ(keys->front().mask, "phx_...");
    EXPECT_EQ(keys->front().label, "label k-a");
    EXPECT_EQ(keys->front().project_id, w_.project_id);
    EXPECT_EQ(keys->front().client_id, w_.client_id);
    EXPECT_EQ(keys->front().created_at, 30);

    auto revoke = [&](const std::string& id, const std::string& user) {
        auto done = write([&](Repositories& r) { return r.browser().revoke_key(id, user, 99); });
        EXPECT_OK(done);
        return done && *done;
    };
    EXPECT_FALSE(revoke("k-a", other.user_id)) << "not theirs";
    EXPECT_TRUE(revoke("k-a", w_.user_id));
    EXPECT_FALSE(revoke("k-a", w_.user_id)) << "already revoked";
    EXPECT_FALSE(revoke("k-404", w_.user_id));
    EXPECT_EQ(ids(), (std::vector<std::string>{"k-b", "k-pasted", "k-old"}));
}

TEST_P(BrowserRepositoryTest, ConnectedAppsCountLiveFamiliesPerPartner) {
    World other = seed_world("-2");
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& g = r.grants();
        RETURN_IF_ERROR(g.insert_family(family("f-1", other.client_id, 10)));
        RETURN_IF_ERROR(g.insert_family(family("f-2", w_.client_id, 20)));
        RETURN_IF_ERROR(g.insert_family(family("f-3", w_.client_id, 30)));
        RETURN_IF_ERROR(g.insert_family(family("f-4", other.client_id, 40)));
        RETURN_IF_ERROR(g.insert_family(family("f-revoked", w_.client_id, 5)));
        return g.revoke_family("f-revoked", "test", 50);
    }));
    auto apps = read([&](Repositories& r) { return r.browser().connected_apps(w_.user_id); });
    ASSERT_OK(apps);
    ASSERT_EQ(apps->size(), 2u);
    EXPECT_EQ((*apps)[0].client_id, other.client_id);
    EXPECT_EQ((*apps)[0].name, "Client " + other.client_id);
    EXPECT_EQ((*apps)[0].authorizations, 2);
    EXPECT_EQ((*apps)[0].first_at, 10);
    EXPECT_EQ((*apps)[1].client_id, w_.client_id);
    EXPECT_EQ((*apps)[1].authorizations, 2);
    EXPECT_EQ((*apps)[1].first_at, 20) << "revoked families do not count";
    auto none = read([&](Repositories& r) { return r.browser().connected_apps(other.user_id); });
    ASSERT_OK(none);
    EXPECT_TRUE(none->empty());
}

TEST_P(BrowserRepositoryTest, DisconnectingAnAppRevokesEverythingThePartnerHoldsForThePerson) {
    World other = seed_world("-2");
    auto code = [&](const std::string& hash, const std::string& client) {
        oauth::AuthorizationCode k;
        k.code_hash = hash;
        k.client_id = client;
        k.user_id = w_.user_id;
        k.organization_id = w_.organization_id;
        k.project_id = w_.project_id;
        k.code_challenge = "c";
        k.code_challenge_method = "S256";
        k.issued_at = 1000;
        k.expires_at = 2000;
        return k;
    };
    DeepLink their_link = link("dl-other");
    their_link.client_id = other.client_id;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& g = r.grants();
        RETURN_IF_ERROR(g.insert_family(family("f-1", w_.client_id, 10)));
        RETURN_IF_ERROR(g.insert_family(family("f-2", w_.client_id, 20)));
        RETURN_IF_ERROR(g.insert_family(family("f-other", other.client_id, 30)));
        for (const std::string f : {"f-1", "f-2", "f-other"}) {
            RETURN_IF_ERROR(g.insert_access_token({"at-" + f, f, 1000, 5000, {}}));
            RETURN_IF_ERROR(g.insert_refresh_token(
                {"rt-" + f, f, std::nullopt, "at-" + f, 1000, 90'000, {}, false, {}}));
        }
        RETURN_IF_ERROR(g.insert_code(code("code-1", w_.client_id)));
        RETURN_IF_ERROR(g.insert_code(code("code-other", other.client_id)));
        RETURN_IF_ERROR(
            r.provisioning().insert_personal_api_key(key("k-1", w_.user_id, w_.client_id, 1)));
        RETURN_IF_ERROR(r.provisioning().insert_personal_api_key(
            key("k-other", w_.user_id, other.client_id, 1)));
        RETURN_IF_ERROR(r.browser().insert_deep_link(link("dl-1")));
        return r.browser().insert_deep_link(their_link);
    }));
    auto n = write([&](Repositories& r) {
        return r.browser().disconnect_app(w_.user_id, w_.client_id, 1100);
    });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 2) << "two live families";

    auto family_revoked = [&](const std::string& id) {
        auto f = read([&](Repositories& r) { return r.grants().find_family(id); });
        EXPECT_OK(f);
        return f && *f ? (*f)->revoked_at : std::optional<std::int64_t>(-1);
    };
    auto access_revoked = [&](const std::string& hash) {
        auto t = read([&](Repositories& r) { return r.grants().find_access_token(hash); });
        EXPECT_OK(t);
        return t && *t ? (*t)->revoked_at : std::optional<std::int64_t>(-1);
    };
    auto refresh_revoked = [&](const std::string& hash) {
        auto t = read([&](Repositories& r) { return r.grants().find_refresh_token(hash); });
        EXPECT_OK(t);
        return t && *t ? (*t)->revoked_at : std::optional<std::int64_t>(-1);
    };
    for (const std::string f : {"f-1", "f-2"}) {
        EXPECT_EQ(family_revoked(f), 1100) << f;
        EXPECT_EQ(access_revoked("at-" + f), 1100) << f;
        EXPECT_EQ(refresh_revoked("rt-" + f), 1100) << f;
    }
    EXPECT_EQ(family_revoked("f-other"), std::nullopt);
    EXPECT_EQ(access_revoked("at-f-other"), std::nullopt);
    EXPECT_EQ(refresh_revoked("rt-f-other"), std::nullopt);

    auto code_expiry = [&](const std::string& hash) {
        auto k = read([&](Repositories& r) { return r.grants().find_code(hash); });
        EXPECT_OK(k);
        return k && *k ? (*k)->expires_at : -1;
    };
    EXPECT_EQ(code_expiry("code-1"), 1100);
    EXPECT_EQ(code_expiry("code-other"), 2000);
    auto key_revoked = [&](const std::string& hash) {
        auto k =
            read([&](Repositories& r) { return r.provisioning().find_personal_api_key(hash); });
        EXPECT_OK(k);
        return k && *k ? (*k)->revoked_at : std::optional<std::int64_t>(-1);
    };
    EXPECT_EQ(key_revoked("hash-k-1"), 1100);
    EXPECT_EQ(key_revoked("hash-k-other"), std::nullopt);
    EXPECT_EQ(consume_link("dl-1", 1150), std::nullopt);
    EXPECT_TRUE(consume_link("dl-other", 1150));

    auto apps = read([&](Repositories& r) { return r.browser().connected_apps(w_.user_id); });
    ASSERT_OK(apps);
    ASSERT_EQ(apps->size(), 1u);
    EXPECT_EQ(apps->front().client_id, other.client_id);
    n = write([&](Repositories& r) {
        return r.browser().disconnect_app(w_.user_id, w_.client_id, 1200);
    });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 0);
    EXPECT_EQ(family_revoked("f-1"), 1100);
}

TEST_P(BrowserRepositoryTest, ConcurrentUsesOfSingleUseSecretsHaveOneWinner) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.browser().insert_deep_link(link("dl-1")));
        RETURN_IF_ERROR(
            r.browser().insert_reveal({"rv-1", w_.user_id, "personal_api_key", "b", 1300}));
        return r.accounts().replace_password_set_token("pw-1", w_.user_id, 1000, 2000);
    }));
    constexpr int n = 6;
    std::vector<int> links(n, 0);
    std::vector<int> reveals(n, 0);
    std::vector<int> passwords(n, 0);
    concurrently(n, [&](int i) {
        links[i] = consume_link("dl-1", 1100).has_value();
        reveals[i] = take_reveal("rv-1", w_.user_id, 1100).has_value();
        auto owner =
            write([&](Repositories& r) { return r.browser().consume_password_link("pw-1", 1100); });
        EXPECT_OK(owner);
        passwords[i] = owner && owner->has_value();
    });
    EXPECT_EQ(std::count(links.begin(), links.end(), 1), 1);
    EXPECT_EQ(std::count(reveals.begin(), reveals.end(), 1), 1);
    EXPECT_EQ(std::count(passwords.begin(), passwords.end(), 1), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, BrowserRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
