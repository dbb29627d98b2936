// cimd::VerificationTokenRepository on every backend: phvt_ tokens that link metadata-document
// clients to an organization.
#include "backend_fixture.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

using cimd::VerificationToken;

class VerificationTokenRepositoryTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        seed_organization("o-1", "First");
        seed_organization("o-2", "Second");
    }

    VerificationToken token(const std::string& id, const std::string& org,
                            std::int64_t created_at = 1000) {
        VerificationToken t;
        t.id = id;
        t.organization_id = org;
        t.token_hash = "hash-" + id;
        t.hint = "phvt_…" + id;
        t.created_at = created_at;
        return t;
    }
    void insert(const VerificationToken& t) {
        EXPECT_OK(write([&](Repositories& r) { return r.verification_tokens().insert(t); }));
    }
    std::optional<VerificationToken> find(const std::string& id) {
        auto found = read([&](Repositories& r) { return r.verification_tokens().find(id); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    std::vector<std::string> list(const std::optional<std::string>& org) {
        auto all = read([&](Repositories& r) { return r.verification_tokens().list(org); });
        EXPECT_OK(all);
        std::vector<std::string> out;
        if (all) {
            for (const auto& t : *all) {
                out.push_back(t.id);
            }
        }
        return out;
    }
    bool bind(const std::string& id, const std::string& client) {
        auto bound =
            write([&](Repositories& r) { return r.verification_tokens().bind(id, client); });
        EXPECT_OK(bound);
        return bound && *bound;
    }
};

void expect_same_token(const VerificationToken& got, const VerificationToken& want) {
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.organization_id, want.organization_id);
    EXPECT_EQ(got.token_hash, want.token_hash);
    EXPECT_EQ(got.hint, want.hint);
    EXPECT_EQ(got.bound_client_id, want.bound_client_id);
    EXPECT_EQ(got.created_at, want.created_at);
    EXPECT_EQ(got.revoked_at, want.revoked_at);
    EXPECT_EQ(got.last_used_at, want.last_used_at);
}

TEST_P(VerificationTokenRepositoryTest, TokenRoundTripsEveryFieldByIdAndByHash) {
    VerificationToken fresh = token("t-1", "o-1");
    VerificationToken used = token("t-2", "o-1");
    used.bound_client_id = "https://app.example/client.json";
    used.revoked_at = 1500;
    used.last_used_at = 1400;
    insert(fresh);
    insert(used);
    auto got = find("t-1");
    ASSERT_TRUE(got);
    expect_same_token(*got, fresh);
    got = find("t-2");
    ASSERT_TRUE(got);
    expect_same_token(*got, used);
    auto by_hash =
        read([&](Repositories& r) { return r.verification_tokens().find_by_hash("hash-t-2"); });
    ASSERT_OK(by_hash);
    ASSERT_TRUE(by_hash->has_value());
    expect_same_token(**by_hash, used);
}

TEST_P(VerificationTokenRepositoryTest, UnknownTokenIsNotFound) {
    insert(token("t-1", "o-1"));
    EXPECT_EQ(find("t-404"), std::nullopt);
    auto by_hash =
        read([&](Repositories& r) { return r.verification_tokens().find_by_hash("hash-t-404"); });
    ASSERT_OK(by_hash);
    EXPECT_FALSE(by_hash->has_value());
}

TEST_P(VerificationTokenRepositoryTest, IdAndHashAreUniqueAndTheOrganizationMustExist) {
    insert(token("t-1", "o-1"));
    EXPECT_CONFLICT(write(
        [&](Repositories& r) { return r.verification_tokens().insert(token("t-1", "o-2")); }));
    VerificationToken same_hash = token("t-2", "o-1");
    same_hash.token_hash = "hash-t-1";
    EXPECT_CONFLICT(
        write([&](Repositories& r) { return r.verification_tokens().insert(same_hash); }));
    EXPECT_CONFLICT(write(
        [&](Repositories& r) { return r.verification_tokens().insert(token("t-3", "o-404")); }));
}

TEST_P(VerificationTokenRepositoryTest, ListIsNewestFirstForAllOrOneOrganization) {
    insert(token("t-b", "o-1", 2000));
    insert(token("t-a", "o-2", 2000));
    insert(token("t-old", "o-1", 1000));
    insert(token("t-new", "o-2", 3000));
    EXPECT_EQ(list(std::nullopt), (std::vector<std::string>{"t-new", "t-a", "t-b", "t-old"}))
        << "newest first, then by id";
    EXPECT_EQ(list("o-1"), (std::vector<std::string>{"t-b", "t-old"}));
    EXPECT_EQ(list("o-2"), (std::vector<std::string>{"t-new", "t-a"}));
    EXPECT_EQ(list("o-404"), (std::vector<std::string>{}));
}

TEST_P(VerificationTokenRepositoryTest, RevokeOnlyALiveToken) {
    insert(token("t-1", "o-1"));
    auto revoke = [&](const std::string& id, std::int64_t now) {
        auto done = write([&](Repositories& r) { return r.verification_tokens().revoke(id, now); });
        EXPECT_OK(done);
        return done && *done;
    };
    EXPECT_TRUE(revoke("t-1", 1500));
    EXPECT_EQ(find("t-1")->revoked_at, 1500);
    EXPECT_FALSE(revoke("t-1", 1600));
    EXPECT_EQ(find("t-1")->revoked_at, 1500);
    EXPECT_FALSE(revoke("t-404", 1600));
}

TEST_P(VerificationTokenRepositoryTest, TokenBindsToTheFirstClientOnly) {
    insert(token("t-1", "o-1"));
    EXPECT_TRUE(bind("t-1", "https://first.example/c.json"));
    EXPECT_TRUE(bind("t-1", "https://first.example/c.json")) << "bound to it already";
    EXPECT_FALSE(bind("t-1", "https://second.example/c.json"));
    EXPECT_EQ(find("t-1")->bound_client_id, "https://first.example/c.json");
    EXPECT_FALSE(bind("t-404", "https://first.example/c.json"));
}

TEST_P(VerificationTokenRepositoryTest, TouchRecordsTheLastUse) {
    insert(token("t-1", "o-1"));
    ASSERT_OK(write([&](Repositories& r) { return r.verification_tokens().touch("t-1", 1700); }));
    EXPECT_EQ(find("t-1")->last_used_at, 1700);
    ASSERT_OK(write([&](Repositories& r) { return r.verification_tokens().touch("t-1", 1800); }));
    EXPECT_EQ(find("t-1")->last_used_at, 1800);
    EXPECT_OK(write([&](Repositories& r) { return r.verification_tokens().touch("t-404", 1800); }));
}

TEST_P(VerificationTokenRepositoryTest, ConcurrentBindsHaveOneWinner) {
    insert(token("t-1", "o-1"));
    constexpr int n = 6;
    std::vector<int> bound(n, 0);
    concurrently(n, [&](int i) {
        bound[i] = bind("t-1", "https://c" + std::to_string(i) + ".example/c.json");
    });
    EXPECT_EQ(std::count(bound.begin(), bound.end(), 1), 1);
    auto winner = std::find(bound.begin(), bound.end(), 1) - bound.begin();
    EXPECT_EQ(find("t-1")->bound_client_id,
              "https://c" + std::to_string(winner) + ".example/c.json");
}

INSTANTIATE_TEST_SUITE_P(Backends, VerificationTokenRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
