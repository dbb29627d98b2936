// The domain services over a real SQLite database, with a clock the tests move by hand.
#include "app/database_backend.hpp"
#include "crypto/crypto.hpp"
#include "oauth/bearer.hpp"
#include "oauth/token_service.hpp"
#include "provisioning/account_requests.hpp"
#include "provisioning/resources.hpp"
#include "storage/migrations.hpp"
#include "storage/sql_repositories.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

using namespace provisiond;

namespace {

constexpr std::int64_t start_time = 1'800'000'000;

struct Pkce {
    std::string verifier = crypto::base64url_encode(crypto::random_bytes(32));
    std::string challenge = crypto::base64url_encode(crypto::sha256_raw(verifier));
};

class Services : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = std::filesystem::temp_directory_path() /
                ("provisiond-unit-" + crypto::random_uuid() + ".db");
        std::string p = path_.string();
        db_ = app::open_storage(p, 4);
        ASSERT_TRUE(storage::migrate(*db_));
        uow_ = std::make_unique<storage::SqlUnitOfWork>(*db_);
        config_.public_url = "https://provision.example";
        ASSERT_EQ(config_.finalize(), "");
        limiter_ =
            std::make_unique<ratelimit::PartnerRateLimiter>(*uow_, clock_, config_.partner_limits);
        tokens_ =
            std::make_unique<oauth::TokenService>(*uow_, clock_, *limiter_, config_.lifetimes);
        partners_ = std::make_unique<oauth::RegisteredPartners>(*uow_);
        accounts_ = std::make_unique<provisioning::AccountRequestService>(*uow_, clock_, *partners_,
                                                                          *limiter_, config_);
        resources_ =
            std::make_unique<provisioning::ResourceService>(*uow_, clock_, *limiter_, config_);
        oauth::OAuthClient client;
        client.client_id = "partner";
        client.name = "Partner";
        client.redirect_uris = {"https://partner.example/cb"};
        client.scopes = {"project:read", "user:read"};
        client.rate_limits = {
            {"account_requests", -1}, {"token_exchanges", -1}, {"resource_creates", -1}};
        ASSERT_TRUE(uow_->run(TransactionMode::write,
                              [&](Repositories& r) { return r.clients().insert(client); }));
    }
    void TearDown() override {
        tokens_.reset();
        db_.reset();
        std::filesystem::remove(path_);
        std::filesystem::remove(path_.string() + "-wal");
        std::filesystem::remove(path_.string() + "-shm");
    }

    provisioning::AccountRequest request(const std::string& email, const Pkce& pkce,
                                         std::string id = "") {
        provisioning::AccountRequest r;
        r.id = id.empty() ? crypto::random_uuid() : id;
        r.email = email;
        r.client_id = "partner";
        r.code_challenge = pkce.challenge;
        r.code_challenge_method = "S256";
        return r;
    }

    std::string new_code(const std::string& email, const Pkce& pkce) {
        auto answer = accounts_->handle(request(email, pkce));
        EXPECT_TRUE(answer);
        EXPECT_EQ(answer->kind, provisioning::AccountRequestAnswer::Kind::oauth);
        return answer->code;
    }

    Result<oauth::IssuedTokens> exchange(const std::string& code, const std::string& verifier) {
        oauth::CodeExchange e;
        e.code = code;
        e.code_verifier = verifier;
        return tokens_->exchange_code(e);
    }

    Result<oauth::IssuedTokens> refresh(const std::string& token) {
        oauth::RefreshRequest r;
        r.refresh_token = token;
        return tokens_->refresh(r);
    }

    bool bearer_works(const std::string& access_token) {
        return static_cast<bool>(
            oauth::authenticate_bearer(*uow_, clock_, "Bearer " + access_token));
    }

    std::int64_t count(const std::string& sql) {
        auto lease = db_->acquire();
        return storage::query(**lease, sql)->at(0).integer(0);
    }

    std::filesystem::path path_;
    ManualClock clock_{start_time};
    Config config_;
    std::unique_ptr<storage::Database> db_;
    std::unique_ptr<storage::SqlUnitOfWork> uow_;
    std::unique_ptr<ratelimit::PartnerRateLimiter> limiter_;
    std::unique_ptr<oauth::TokenService> tokens_;
    std::unique_ptr<oauth::RegisteredPartners> partners_;
    std::unique_ptr<provisioning::AccountRequestService> accounts_;
    std::unique_ptr<provisioning::ResourceService> resources_;
};

} // namespace

TEST_F(Services, NewUserGetsAccountEmailAndCode) {
    Pkce pkce;
    std::string code = new_code("Jane@Example.com", pkce);
    EXPECT_EQ(code.size(), 43U);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE email_normalized = 'jane@example.com'"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM organizations WHERE name = 'Partner (Jane@Example.com)'"),
              1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM projects WHERE name = 'Default project' AND api_token "
                    "LIKE 'phc_%'"),
              1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE kind = 'welcome'"), 1);
    // The set-password link is minted at delivery, never stored raw.
    EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE body_text LIKE '%{{set_password_token}}%'"),
              1);
    // Only the hash is stored.
    EXPECT_EQ(count("SELECT COUNT(*) FROM authorization_codes WHERE code_hash = '" +
                    crypto::sha256_hex(code) + "'"),
              1);
}

TEST_F(Services, ExistingUserNeverGetsASilentCode) {
    Pkce pkce;
    new_code("jane@example.com", pkce);
    auto first = accounts_->handle(request("JANE@example.com", pkce));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->kind, provisioning::AccountRequestAnswer::Kind::requires_auth);
    EXPECT_EQ(first->url.rfind("https://provision.example/api/agentic/authorize?state=", 0), 0U);
    auto second = accounts_->handle(request("jane@example.com", pkce));
    ASSERT_TRUE(second);
    EXPECT_NE(first->url, second->url);
    // Only the newest consent stays valid.
    EXPECT_EQ(count("SELECT COUNT(*) FROM pending_consents"), 1);
}

TEST_F(Services, RetriedRequestIdCreatesNoSecondAccount) {
    Pkce pkce;
    auto first = accounts_->handle(request("retry@example.com", pkce, "req-1"));
    ASSERT_TRUE(first);
    auto again = accounts_->handle(request("retry@example.com", pkce, "req-1"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->kind, provisioning::AccountRequestAnswer::Kind::oauth);
    EXPECT_NE(again->code, first->code);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 1);
    // The earlier code no longer works; the new one does.
    EXPECT_FALSE(exchange(first->code, pkce.verifier));
    ASSERT_TRUE(exchange(again->code, pkce.verifier));
    // Once exchanged, the same id is spent.
    auto late = accounts_->handle(request("retry@example.com", pkce, "req-1"));
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().message,
              "This account request was already completed; use a new request id");
    // The same id for another email is refused.
    auto other = accounts_->handle(request("someone-else@example.com", pkce, "req-1"));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, ErrorCode::invalid_request);
}

TEST_F(Services, WrongVerifierDoesNotBurnTheCode) {
    Pkce pkce;
    Pkce other;
    std::string code = new_code("pkce@example.com", pkce);
    auto wrong = exchange(code, other.verifier);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::invalid_grant);
    EXPECT_TRUE(wrong.error().message.starts_with("PKCE code_verifier does not match"));
    auto missing = exchange(code, "");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::invalid_request);
    auto malformed = exchange(code, "short");
    ASSERT_FALSE(malformed);
    EXPECT_EQ(malformed.error().message,
              "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]");
    auto ok = exchange(code, pkce.verifier);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->account->available_teams.size(), 1U);
}

TEST_F(Services, CodeExpiresAfterItsLifetime) {
    Pkce pkce;
    std::string code = new_code("late@example.com", pkce);
    clock_.advance(config_.lifetimes.code_seconds);
    auto r = exchange(code, pkce.verifier);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Invalid or expired authorization code");
}

TEST_F(Services, ReplayedCodeRevokesWhatItIssued) {
    Pkce pkce;
    std::string code = new_code("replay@example.com", pkce);
    auto tokens = exchange(code, pkce.verifier);
    ASSERT_TRUE(tokens);
    ASSERT_TRUE(bearer_works(tokens->access_token));
    auto replay = exchange(code, pkce.verifier);
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().code, ErrorCode::invalid_grant);
    EXPECT_FALSE(bearer_works(tokens->access_token));
    EXPECT_FALSE(refresh(tokens->refresh_token));
}

TEST_F(Services, ConcurrentExchangesExactlyOneWins) {
    Pkce pkce;
    std::string code = new_code("race@example.com", pkce);
    constexpr int contenders = 8;
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < contenders; ++i) {
        threads.emplace_back([&] {
            if (exchange(code, pkce.verifier)) {
                ++wins;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM authorization_codes WHERE consumed_at IS NOT NULL"), 1);
}

TEST_F(Services, RefreshRotatesAndRetiresTheOldPair) {
    Pkce pkce;
    auto first = exchange(new_code("rotate@example.com", pkce), pkce.verifier);
    ASSERT_TRUE(first);
    auto second = refresh(first->refresh_token);
    ASSERT_TRUE(second);
    EXPECT_NE(second->refresh_token, first->refresh_token);
    EXPECT_FALSE(second->account);
    EXPECT_FALSE(bearer_works(first->access_token));
    EXPECT_TRUE(bearer_works(second->access_token));
    auto third = refresh(second->refresh_token);
    ASSERT_TRUE(third);
}

TEST_F(Services, RetryInsideGraceWindowSucceedsOnce) {
    Pkce pkce;
    auto first = exchange(new_code("grace@example.com", pkce), pkce.verifier);
    ASSERT_TRUE(first);
    auto lost = refresh(first->refresh_token); // the response to this is "lost"
    ASSERT_TRUE(lost);
    clock_.advance(config_.lifetimes.refresh_grace_seconds - 1);
    auto retry = refresh(first->refresh_token);
    ASSERT_TRUE(retry) << retry.error().message;
    EXPECT_FALSE(bearer_works(lost->access_token)); // the unreceived pair is revoked
    EXPECT_TRUE(bearer_works(retry->access_token));
    // A second retry is reuse: the whole family goes.
    auto again = refresh(first->refresh_token);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message,
              "Refresh token was already used; the token family has been revoked");
    EXPECT_FALSE(bearer_works(retry->access_token));
    EXPECT_FALSE(refresh(retry->refresh_token));
}

TEST_F(Services, ReuseAfterGraceWindowRevokesTheFamily) {
    Pkce pkce;
    auto first = exchange(new_code("theft@example.com", pkce), pkce.verifier);
    ASSERT_TRUE(first);
    auto second = refresh(first->refresh_token);
    ASSERT_TRUE(second);
    clock_.advance(config_.lifetimes.refresh_grace_seconds + 1);
    auto stolen = refresh(first->refresh_token);
    ASSERT_FALSE(stolen);
    EXPECT_FALSE(bearer_works(second->access_token));
    EXPECT_FALSE(refresh(second->refresh_token));
    EXPECT_EQ(
        count("SELECT COUNT(*) FROM token_families WHERE revoked_reason = 'refresh_token_reused'"),
        1);
}

TEST_F(Services, ResourcesUseTheBaseProjectAndMapProjectIds) {
    Pkce pkce;
    auto tokens = exchange(new_code("res@example.com", pkce), pkce.verifier);
    ASSERT_TRUE(tokens);
    auto caller = oauth::authenticate_bearer(*uow_, clock_, "Bearer " + tokens->access_token);
    ASSERT_TRUE(caller);
    auto base = resources_->create(*caller, {});
    ASSERT_TRUE(base);
    EXPECT_EQ(base->host, "https://provision.example");
    ASSERT_TRUE(base->personal_api_key);
    provisioning::CreateResource mapped;
    mapped.project_id = "ext-1";
    mapped.project_name = "Production";
    auto a = resources_->create(*caller, mapped);
    ASSERT_TRUE(a);
    EXPECT_NE(a->project_id, base->project_id);
    caller = oauth::authenticate_bearer(*uow_, clock_, "Bearer " + tokens->access_token);
    auto b = resources_->create(*caller, mapped);
    ASSERT_TRUE(b);
    EXPECT_EQ(a->project_id, b->project_id);
    EXPECT_EQ(count("SELECT COUNT(*) FROM personal_api_keys"), 3);
    auto rotated = resources_->rotate(*caller, std::to_string(a->project_id), std::nullopt);
    ASSERT_TRUE(rotated);
    EXPECT_NE(rotated->api_key, a->api_key);
    auto foreign = resources_->get(*caller, "999");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code, ErrorCode::forbidden);
    auto bad = resources_->get(*caller, "abc");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::invalid_resource_id);
}

TEST_F(Services, RateLimitCountsPerClientAndWindow) {
    ratelimit::LimitedPartner client;
    client.client_id = "limited";
    client.overrides = {{"account_requests", 2}};
    EXPECT_TRUE(limiter_->charge(client, ratelimit::Endpoint::account_requests));
    EXPECT_TRUE(limiter_->charge(client, ratelimit::Endpoint::account_requests));
    auto third = limiter_->charge(client, ratelimit::Endpoint::account_requests);
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().code, ErrorCode::rate_limited);
    EXPECT_GT(third.error().retry_after_seconds, 0);
    EXPECT_LE(third.error().retry_after_seconds, 3600);
    EXPECT_TRUE(limiter_->charge(client, ratelimit::Endpoint::token_exchanges));
    clock_.advance(3600);
    EXPECT_TRUE(limiter_->charge(client, ratelimit::Endpoint::account_requests));
}

TEST_F(Services, MigrationsAreIdempotent) {
    auto again = storage::migrate(*db_);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty());
    EXPECT_EQ(*storage::schema_version(*db_), storage::latest_version("sqlite"));
}
