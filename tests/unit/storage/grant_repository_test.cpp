// oauth::GrantRepository on every backend: authorization codes (single use), token families and
// their access and refresh tokens (rotation, grace, revocation).
#include "backend_fixture.hpp"

#include <algorithm>
#include <atomic>

namespace provisiond::conformance {
namespace {

using oauth::AccessToken;
using oauth::AuthorizationCode;
using oauth::RefreshToken;
using oauth::TokenFamily;

class GrantRepositoryTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        w_ = seed_world();
    }

    AuthorizationCode code(const std::string& hash, std::int64_t expires_at = 2000) {
        AuthorizationCode k;
        k.code_hash = hash;
        k.client_id = w_.client_id;
        k.user_id = w_.user_id;
        k.organization_id = w_.organization_id;
        k.project_id = w_.project_id;
        k.scopes = {"project:read", "user:read"};
        k.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        k.code_challenge_method = "S256";
        k.redirect_uri = "https://partner.example/cb?a=1";
        k.issued_at = 1000;
        k.expires_at = expires_at;
        return k;
    }

    TokenFamily family(const std::string& id, std::int64_t created_at = 1000) {
        TokenFamily f;
        f.id = id;
        f.client_id = w_.client_id;
        f.user_id = w_.user_id;
        f.organization_id = w_.organization_id;
        f.scopes = {"project:read", "user:read"};
        f.project_ids = {w_.project_id, 4'000'000'000LL, 7};
        f.created_at = created_at;
        return f;
    }

    RefreshToken refresh(const std::string& hash, const std::string& family_id,
                         std::optional<std::string> parent = std::nullopt,
                         std::int64_t created_at = 1000) {
        RefreshToken t;
        t.token_hash = hash;
        t.family_id = family_id;
        t.parent_hash = std::move(parent);
        t.access_token_hash = "at-" + hash;
        t.created_at = created_at;
        t.expires_at = created_at + 86'400;
        return t;
    }

    /// An access token and the refresh token minted with it, in `family_id`.
    void mint_pair(const std::string& hash, const std::string& family_id,
                   std::optional<std::string> parent = std::nullopt,
                   std::int64_t created_at = 1000) {
        RefreshToken rt = refresh(hash, family_id, std::move(parent), created_at);
        AccessToken at{rt.access_token_hash, family_id, created_at, created_at + 3600, {}};
        EXPECT_OK(write([&](Repositories& r) -> Result<void> {
            RETURN_IF_ERROR(r.grants().insert_access_token(at));
            return r.grants().insert_refresh_token(rt);
        }));
    }

    std::optional<AuthorizationCode> find_code(const std::string& hash) {
        auto found = read([&](Repositories& r) { return r.grants().find_code(hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    std::optional<TokenFamily> find_family(const std::string& id) {
        auto found = read([&](Repositories& r) { return r.grants().find_family(id); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    std::optional<AccessToken> find_access(const std::string& hash) {
        auto found = read([&](Repositories& r) { return r.grants().find_access_token(hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    std::optional<RefreshToken> find_refresh(const std::string& hash) {
        auto found = read([&](Repositories& r) { return r.grants().find_refresh_token(hash); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    bool consume(const std::string& hash, const std::string& family_id, std::int64_t now) {
        auto won =
            write([&](Repositories& r) { return r.grants().consume_code(hash, family_id, now); });
        EXPECT_OK(won);
        return won && *won;
    }
    std::vector<std::string> ids(const Result<std::vector<TokenFamily>>& families) {
        EXPECT_OK(families);
        std::vector<std::string> out;
        if (families) {
            for (const auto& f : *families) {
                out.push_back(f.id);
            }
        }
        return out;
    }

    World w_;
};

TEST_P(GrantRepositoryTest, CodeRoundTripsEveryField) {
    AuthorizationCode k = code("c-1");
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(k); }));
    auto found = find_code("c-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->code_hash, k.code_hash);
    EXPECT_EQ(found->client_id, k.client_id);
    EXPECT_EQ(found->user_id, k.user_id);
    EXPECT_EQ(found->organization_id, k.organization_id);
    EXPECT_EQ(found->project_id, k.project_id);
    EXPECT_EQ(found->scopes, k.scopes);
    EXPECT_EQ(found->code_challenge, k.code_challenge);
    EXPECT_EQ(found->code_challenge_method, "S256");
    EXPECT_EQ(found->redirect_uri, k.redirect_uri);
    EXPECT_EQ(found->issued_at, 1000);
    EXPECT_EQ(found->expires_at, 2000);
    EXPECT_EQ(found->consumed_at, std::nullopt);
    EXPECT_EQ(found->family_id, std::nullopt);
}

TEST_P(GrantRepositoryTest, CodeWithoutRedirectUriRoundTrips) {
    AuthorizationCode k = code("c-1");
    k.redirect_uri.reset();
    k.scopes = {};
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(k); }));
    auto found = find_code("c-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->redirect_uri, std::nullopt);
    EXPECT_TRUE(found->scopes.empty());
}

TEST_P(GrantRepositoryTest, CodeIsUniqueAndUnknownCodeIsNotFound) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-1")); }));
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_code(code("c-1")); }));
    EXPECT_EQ(find_code("c-2"), std::nullopt);
}

TEST_P(GrantRepositoryTest, CodeNeedsItsClientUserAndProject) {
    AuthorizationCode k = code("c-1");
    k.client_id = "nobody";
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_code(k); }));
    k = code("c-2");
    k.project_id = w_.project_id + 1000;
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_code(k); }));
}

TEST_P(GrantRepositoryTest, CodeIsConsumedOnceByTheFirstCaller) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-1")); }));
    EXPECT_TRUE(consume("c-1", "fam-first", 1500));
    EXPECT_FALSE(consume("c-1", "fam-second", 1501)) << "a code is single-use";
    auto found = find_code("c-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->consumed_at, 1500);
    EXPECT_EQ(found->family_id, "fam-first");
    EXPECT_FALSE(consume("c-unknown", "fam", 1500));
}

TEST_P(GrantRepositoryTest, ExpiredCodeCannotBeConsumed) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-1", 2000)); }));
    EXPECT_FALSE(consume("c-1", "fam", 2000)) << "expires_at is the first dead second";
    EXPECT_FALSE(consume("c-1", "fam", 2500));
    EXPECT_EQ(find_code("c-1")->consumed_at, std::nullopt);
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-2", 2000)); }));
    EXPECT_TRUE(consume("c-2", "fam", 1999));
}

TEST_P(GrantRepositoryTest, DeletedCodeIsGone) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-1")); }));
    ASSERT_OK(write([&](Repositories& r) { return r.grants().delete_code("c-1"); }));
    EXPECT_EQ(find_code("c-1"), std::nullopt);
    EXPECT_OK(write([&](Repositories& r) { return r.grants().delete_code("c-1"); }));
    EXPECT_FALSE(consume("c-1", "fam", 1500));
}

TEST_P(GrantRepositoryTest, FamilyRoundTripsEveryField) {
    TokenFamily f = family("fam-1");
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(f); }));
    auto found = find_family("fam-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, "fam-1");
    EXPECT_EQ(found->client_id, w_.client_id);
    EXPECT_EQ(found->user_id, w_.user_id);
    EXPECT_EQ(found->organization_id, w_.organization_id);
    EXPECT_EQ(found->scopes, f.scopes);
    EXPECT_EQ(found->project_ids, f.project_ids);
    EXPECT_EQ(found->created_at, 1000);
    EXPECT_EQ(found->revoked_at, std::nullopt);
    EXPECT_EQ(find_family("fam-2"), std::nullopt);
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_family(f); }));
}

// Inserts and updates whose outcome is only success may be held back by the driver and sent
// with the next statement (PostgreSQL: one round trip for several; storage/connection.hpp).
// Whatever the backend does, a transaction sees its own writes, and a held-back statement that
// fails fails its own transaction with its own error, never another.
TEST_P(GrantRepositoryTest, AWriteIsSeenByTheNextStatementOfItsTransaction) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-1")));
        RETURN_IF_ERROR(r.grants().set_family_scopes("fam-1", {"user:read"}));
        RETURN_IF_ERROR(r.grants().insert_refresh_token(refresh("rt-1", "fam-1")));
        ASSIGN_OR_RETURN(auto found, r.grants().find_family("fam-1"));
        EXPECT_TRUE(found && found->scopes == std::vector<std::string>{"user:read"});
        ASSIGN_OR_RETURN(auto token, r.grants().find_refresh_token("rt-1"));
        EXPECT_TRUE(token.has_value());
        return {};
    }));
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = 'fam-1'"), 1);
}

TEST_P(GrantRepositoryTest, AFailedWriteFailsItsTransactionWithItsOwnErrorWhenItIsSent) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    // The duplicate's conflict comes back from the statement after it, or from the commit.
    EXPECT_CONFLICT(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-2")));
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-1")));
        ASSIGN_OR_RETURN(auto found, r.grants().find_family("fam-2"));
        (void)found;
        return {};
    }));
    EXPECT_CONFLICT(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-3")));
        return r.grants().insert_family(family("fam-1"));
    }));
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM token_families"), 1) << "fam-2 and fam-3 went too";
}

TEST_P(GrantRepositoryTest, PostgreSQLSendsAHeldBackWriteWithTheStatementAfterIt) {
    // Where the error of a held-back statement appears is the one thing that differs: SQLite
    // runs it at once; PostgreSQL sends it in the next statement's round trip.
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    EXPECT_CONFLICT(write([&](Repositories& r) -> Result<void> {
        auto inserted = r.grants().insert_family(family("fam-1"));
        if (backend() == Backend::sqlite) {
            EXPECT_CONFLICT(inserted);
            return inserted;
        }
        EXPECT_OK(inserted) << "held back, not sent yet";
        auto next = r.grants().find_family("fam-1");
        EXPECT_CONFLICT(next) << "the round trip that carried it";
        return next ? Result<void>{} : Result<void>{next.error()};
    }));
}

TEST_P(GrantRepositoryTest, AHeldBackFailureTakesOnlyItsOwnTransactionOutOfASharedCommit) {
    // Transactions that commit together (storage/group_commit.hpp): the ones whose held-back
    // insert is a duplicate fail with a conflict, every other one commits.
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("taken")); }));
    std::atomic<int> conflicts = 0;
    concurrently(8, [&](int t) {
        for (int k = 0; k < 10; ++k) {
            std::string id = "f-" + std::to_string(t) + "-" + std::to_string(k);
            auto done = write([&](Repositories& r) -> Result<void> {
                RETURN_IF_ERROR(r.grants().insert_family(family(id)));
                RETURN_IF_ERROR(
                    r.grants().insert_access_token(AccessToken{"at-" + id, id, 1000, 4600, {}}));
                if (t % 2 == 1) {
                    return r.grants().insert_family(family("taken"));
                }
                return {};
            });
            if (t % 2 == 1) {
                EXPECT_TRUE(failed_with(done, ErrorCode::conflict)) << id;
                conflicts += done ? 0 : 1;
            } else {
                EXPECT_OK(done);
            }
        }
    });
    EXPECT_EQ(conflicts.load(), 40);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM token_families"), 1 + 40);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM access_tokens"), 40);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM token_families WHERE id LIKE 'f-1-%'"), 0);
}

TEST_P(GrantRepositoryTest, FamilyProjectsAndScopesAreReplaced) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().set_family_projects("fam-1", {w_.project_id, 12, 13}));
        return r.grants().set_family_scopes("fam-1", {"user:read"});
    }));
    auto found = find_family("fam-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->project_ids, (std::vector<std::int64_t>{w_.project_id, 12, 13}));
    EXPECT_EQ(found->scopes, (std::vector<std::string>{"user:read"}));
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().set_family_projects("fam-1", {w_.project_id}));
        return r.grants().set_family_scopes("fam-1", {});
    }));
    found = find_family("fam-1");
    EXPECT_EQ(found->project_ids, (std::vector<std::int64_t>{w_.project_id}));
    EXPECT_TRUE(found->scopes.empty());
}

TEST_P(GrantRepositoryTest, RevokingAFamilyRevokesEveryTokenInItAndNothingElse) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-1")));
        return r.grants().insert_family(family("fam-2"));
    }));
    mint_pair("rt-1", "fam-1");
    mint_pair("rt-2", "fam-1", "rt-1", 1100);
    mint_pair("rt-other", "fam-2");
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_family("fam-1", "test", 1200); }));
    EXPECT_EQ(find_family("fam-1")->revoked_at, 1200);
    for (const std::string hash : {"rt-1", "rt-2"}) {
        EXPECT_EQ(find_refresh(hash)->revoked_at, 1200) << hash;
        EXPECT_EQ(find_access("at-" + hash)->revoked_at, 1200) << hash;
    }
    EXPECT_EQ(find_family("fam-2")->revoked_at, std::nullopt);
    EXPECT_EQ(find_refresh("rt-other")->revoked_at, std::nullopt);
    EXPECT_EQ(find_access("at-rt-other")->revoked_at, std::nullopt);
    // Revoking again keeps the first time.
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_family("fam-1", "again", 1300); }));
    EXPECT_EQ(find_family("fam-1")->revoked_at, 1200);
    EXPECT_EQ(find_refresh("rt-1")->revoked_at, 1200);
    EXPECT_OK(write([&](Repositories& r) { return r.grants().revoke_family("fam-404", "x", 1); }));
}

TEST_P(GrantRepositoryTest, LiveFamiliesByClientAndUserOldestFirst) {
    World other = seed_world("-2");
    auto f = [&](const std::string& id, const World& client_of, const World& user_of,
                 std::int64_t created_at) {
        TokenFamily t = family(id, created_at);
        t.client_id = client_of.client_id;
        t.user_id = user_of.user_id;
        return t;
    };
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& g = r.grants();
        RETURN_IF_ERROR(g.insert_family(f("f-b", w_, w_, 20)));
        RETURN_IF_ERROR(g.insert_family(f("f-a", w_, w_, 20)));
        RETURN_IF_ERROR(g.insert_family(f("f-old", w_, w_, 10)));
        RETURN_IF_ERROR(g.insert_family(f("f-revoked", w_, w_, 5)));
        RETURN_IF_ERROR(g.insert_family(f("f-other-client", other, w_, 1)));
        RETURN_IF_ERROR(g.insert_family(f("f-other-user", w_, other, 1)));
        return g.revoke_family("f-revoked", "test", 30);
    }));
    EXPECT_EQ(ids(read([&](Repositories& r) {
                  return r.grants().live_families(w_.client_id, w_.user_id);
              })),
              (std::vector<std::string>{"f-old", "f-a", "f-b"}));
    EXPECT_EQ(ids(read([&](Repositories& r) {
                  return r.grants().live_families_of_client(w_.client_id);
              })),
              (std::vector<std::string>{"f-other-user", "f-old", "f-a", "f-b"}));
    EXPECT_EQ(
        ids(read([&](Repositories& r) { return r.grants().live_families_of_user(w_.user_id); })),
        (std::vector<std::string>{"f-other-client", "f-old", "f-a", "f-b"}));
    EXPECT_EQ(ids(read([&](Repositories& r) {
                  return r.grants().live_families(other.client_id, other.user_id);
              })),
              (std::vector<std::string>{}));
    auto families =
        read([&](Repositories& r) { return r.grants().live_families_of_user(w_.user_id); });
    ASSERT_OK(families);
    EXPECT_EQ(families->back().project_ids, family("x").project_ids) << "every field is read";
}

TEST_P(GrantRepositoryTest, ExpiringUnusedCodesOfAClientOrUser) {
    World other = seed_world("-2");
    AuthorizationCode of_other_client = code("c-other-client");
    of_other_client.client_id = other.client_id;
    AuthorizationCode of_other_user = code("c-other-user");
    of_other_user.user_id = other.user_id;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& g = r.grants();
        RETURN_IF_ERROR(g.insert_code(code("c-live-1")));
        RETURN_IF_ERROR(g.insert_code(code("c-live-2")));
        RETURN_IF_ERROR(g.insert_code(code("c-used")));
        RETURN_IF_ERROR(g.insert_code(code("c-expired", 1200)));
        RETURN_IF_ERROR(g.insert_code(of_other_client));
        return g.insert_code(of_other_user);
    }));
    ASSERT_TRUE(consume("c-used", "fam", 1100));
    auto n = write([&](Repositories& r) {
        return r.grants().expire_unused_codes_of_client(w_.client_id, 1500);
    });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 3) << "c-live-1, c-live-2 and c-other-user";
    EXPECT_EQ(find_code("c-live-1")->expires_at, 1500);
    EXPECT_EQ(find_code("c-other-user")->expires_at, 1500);
    EXPECT_EQ(find_code("c-used")->expires_at, 2000);
    EXPECT_EQ(find_code("c-expired")->expires_at, 1200);
    EXPECT_EQ(find_code("c-other-client")->expires_at, 2000);
    EXPECT_FALSE(consume("c-live-1", "fam", 1501));

    n = write(
        [&](Repositories& r) { return r.grants().expire_unused_codes_of_user(w_.user_id, 1600); });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 1) << "only c-other-client was still live";
    EXPECT_EQ(find_code("c-other-client")->expires_at, 1600);
    n = write([&](Repositories& r) {
        return r.grants().expire_unused_codes_of_user(other.user_id, 1700);
    });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 0);
}

TEST_P(GrantRepositoryTest, AccessTokenRoundTripsAndIsRevokedOnce) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    AccessToken at{"at-1", "fam-1", 1000, 4600, {}};
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_access_token(at); }));
    auto found = find_access("at-1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->token_hash, "at-1");
    EXPECT_EQ(found->family_id, "fam-1");
    EXPECT_EQ(found->created_at, 1000);
    EXPECT_EQ(found->expires_at, 4600);
    EXPECT_EQ(found->revoked_at, std::nullopt);
    EXPECT_EQ(find_access("at-2"), std::nullopt);
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_access_token(at); }));
    AccessToken orphan{"at-3", "fam-404", 1000, 4600, {}};
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_access_token(orphan); }));

    ASSERT_OK(write([&](Repositories& r) { return r.grants().revoke_access_token("at-1", 1100); }));
    EXPECT_EQ(find_access("at-1")->revoked_at, 1100);
    ASSERT_OK(write([&](Repositories& r) { return r.grants().revoke_access_token("at-1", 1200); }));
    EXPECT_EQ(find_access("at-1")->revoked_at, 1100) << "the first revocation's time stays";
    EXPECT_OK(write([&](Repositories& r) { return r.grants().revoke_access_token("at-9", 1); }));
}

TEST_P(GrantRepositoryTest, AccessTokenInsertedRevokedStaysRevoked) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    AccessToken at{"at-1", "fam-1", 1000, 4600, 1001};
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_access_token(at); }));
    EXPECT_EQ(find_access("at-1")->revoked_at, 1001);
}

TEST_P(GrantRepositoryTest, RefreshTokenRoundTripsEveryField) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    RefreshToken child = refresh("rt-2", "fam-1", "rt-1", 1100);
    child.rotated_at = 1150;
    child.grace_used = true;
    child.revoked_at = 1160;
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_refresh_token(child); }));

    auto root = find_refresh("rt-1");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->token_hash, "rt-1");
    EXPECT_EQ(root->family_id, "fam-1");
    EXPECT_EQ(root->parent_hash, std::nullopt);
    EXPECT_EQ(root->access_token_hash, "at-rt-1");
    EXPECT_EQ(root->created_at, 1000);
    EXPECT_EQ(root->expires_at, 1000 + 86'400);
    EXPECT_EQ(root->rotated_at, std::nullopt);
    EXPECT_FALSE(root->grace_used);
    EXPECT_EQ(root->revoked_at, std::nullopt);

    auto found = find_refresh("rt-2");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->parent_hash, "rt-1");
    EXPECT_EQ(found->rotated_at, 1150);
    EXPECT_TRUE(found->grace_used);
    EXPECT_EQ(found->revoked_at, 1160);

    EXPECT_EQ(find_refresh("rt-3"), std::nullopt);
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.grants().insert_refresh_token(child); }));
}

TEST_P(GrantRepositoryTest, RefreshTokenIsRotatedOnceAndNeverWhenRevoked) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    mint_pair("rt-revoked", "fam-1");
    auto rotate = [&](const std::string& hash, std::int64_t now) {
        auto won = write([&](Repositories& r) { return r.grants().mark_rotated(hash, now); });
        EXPECT_OK(won);
        return won && *won;
    };
    EXPECT_TRUE(rotate("rt-1", 1100));
    EXPECT_FALSE(rotate("rt-1", 1101));
    EXPECT_EQ(find_refresh("rt-1")->rotated_at, 1100);
    ASSERT_OK(write(
        [&](Repositories& r) { return r.grants().revoke_refresh_token("rt-revoked", 1050); }));
    EXPECT_FALSE(rotate("rt-revoked", 1100));
    EXPECT_EQ(find_refresh("rt-revoked")->rotated_at, std::nullopt);
    EXPECT_FALSE(rotate("rt-unknown", 1100));
}

TEST_P(GrantRepositoryTest, GraceIsSpentOnce) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    auto spend = [&] {
        auto won = write([&](Repositories& r) { return r.grants().spend_grace("rt-1"); });
        EXPECT_OK(won);
        return won && *won;
    };
    EXPECT_TRUE(spend());
    EXPECT_FALSE(spend());
    EXPECT_TRUE(find_refresh("rt-1")->grace_used);
    auto unknown = write([&](Repositories& r) { return r.grants().spend_grace("rt-404"); });
    ASSERT_OK(unknown);
    EXPECT_FALSE(*unknown);
}

TEST_P(GrantRepositoryTest, NewestChildPrefersTheLatestThenTheLiveOne) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    auto newest = [&](const std::string& parent) -> std::optional<std::string> {
        auto child = read([&](Repositories& r) { return r.grants().find_newest_child(parent); });
        EXPECT_OK(child);
        if (!child || !*child) {
            return std::nullopt;
        }
        return (*child)->token_hash;
    };
    EXPECT_EQ(newest("rt-1"), std::nullopt);
    mint_pair("rt-2a", "fam-1", "rt-1", 1100);
    EXPECT_EQ(newest("rt-1"), "rt-2a");
    mint_pair("rt-2b", "fam-1", "rt-1", 1200);
    EXPECT_EQ(newest("rt-1"), "rt-2b");
    // The grace retry within one second: the replaced child is revoked, its replacement is not.
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_refresh_token("rt-2b", 1200); }));
    mint_pair("rt-2c", "fam-1", "rt-1", 1200);
    EXPECT_EQ(newest("rt-1"), "rt-2c");
    mint_pair("rt-2d", "fam-1", "rt-1", 1200);
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_refresh_token("rt-2d", 1200); }));
    EXPECT_EQ(newest("rt-1"), "rt-2c") << "a live child wins over a revoked one of the same second";
}

TEST_P(GrantRepositoryTest, RevokingARefreshTokenRevokesItsAccessToken) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    mint_pair("rt-2", "fam-1");
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_refresh_token("rt-1", 1300); }));
    EXPECT_EQ(find_refresh("rt-1")->revoked_at, 1300);
    EXPECT_EQ(find_access("at-rt-1")->revoked_at, 1300);
    EXPECT_EQ(find_refresh("rt-2")->revoked_at, std::nullopt);
    EXPECT_EQ(find_access("at-rt-2")->revoked_at, std::nullopt);
    EXPECT_EQ(find_family("fam-1")->revoked_at, std::nullopt) << "the family lives on";
    ASSERT_OK(
        write([&](Repositories& r) { return r.grants().revoke_refresh_token("rt-1", 1400); }));
    EXPECT_EQ(find_refresh("rt-1")->revoked_at, 1300);
    EXPECT_OK(write([&](Repositories& r) { return r.grants().revoke_refresh_token("rt-404", 1); }));
}

TEST_P(GrantRepositoryTest, RotationThenReuseRevokesTheWholeFamily) {
    // The token service's sequence: exchange a code, rotate twice, then a retired token returns.
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.grants().insert_code(code("c-1")));
        RETURN_IF_ERROR(r.grants().insert_family(family("fam-1")));
        auto won = r.grants().consume_code("c-1", "fam-1", 1000);
        if (!won) {
            return won.error();
        }
        EXPECT_TRUE(*won);
        return {};
    }));
    mint_pair("rt-1", "fam-1");
    struct Step {
        std::string old_hash;
        std::string new_hash;
        std::int64_t now;
    };
    for (const Step& step : {Step{"rt-1", "rt-2", 1100}, Step{"rt-2", "rt-3", 1200}}) {
        ASSERT_OK(write([&](Repositories& r) -> Result<void> {
            auto rotated = r.grants().mark_rotated(step.old_hash, step.now);
            if (!rotated) {
                return rotated.error();
            }
            EXPECT_TRUE(*rotated);
            return r.grants().revoke_access_token("at-" + step.old_hash, step.now);
        }));
        mint_pair(step.new_hash, "fam-1", step.old_hash, step.now);
    }
    EXPECT_EQ(find_access("at-rt-1")->revoked_at, 1100);
    EXPECT_EQ(find_access("at-rt-3")->revoked_at, std::nullopt);
    EXPECT_EQ(find_refresh("rt-3")->parent_hash, "rt-2");

    // rt-1 comes back: it was rotated, so the family is revoked.
    auto reused = read([&](Repositories& r) { return r.grants().find_refresh_token("rt-1"); });
    ASSERT_OK(reused);
    ASSERT_TRUE(reused->has_value());
    EXPECT_TRUE((*reused)->rotated_at.has_value());
    ASSERT_OK(write([&](Repositories& r) {
        return r.grants().revoke_family("fam-1", "refresh_token_reused", 1300);
    }));
    for (const std::string hash : {"rt-1", "rt-2", "rt-3"}) {
        EXPECT_TRUE(find_refresh(hash)->revoked_at.has_value()) << hash;
        EXPECT_TRUE(find_access("at-" + hash)->revoked_at.has_value()) << hash;
    }
    EXPECT_EQ(find_refresh("rt-3")->revoked_at, 1300);
    EXPECT_EQ(find_access("at-rt-1")->revoked_at, 1100) << "earlier revocations keep their time";
    auto live =
        read([&](Repositories& r) { return r.grants().live_families(w_.client_id, w_.user_id); });
    ASSERT_OK(live);
    EXPECT_TRUE(live->empty());
}

TEST_P(GrantRepositoryTest, ConcurrentConsumersOfOneCodeHaveOneWinner) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_code(code("c-1")); }));
    constexpr int n = 8;
    std::vector<int> won(n, 0);
    concurrently(n, [&](int i) { won[i] = consume("c-1", "fam-" + std::to_string(i), 1500); });
    EXPECT_EQ(std::count(won.begin(), won.end(), 1), 1);
    auto winner = std::find(won.begin(), won.end(), 1) - won.begin();
    EXPECT_EQ(find_code("c-1")->family_id, "fam-" + std::to_string(winner));
}

TEST_P(GrantRepositoryTest, ConcurrentRotationsOfOneRefreshTokenHaveOneWinner) {
    ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(family("fam-1")); }));
    mint_pair("rt-1", "fam-1");
    constexpr int n = 8;
    std::vector<int> rotated(n, 0);
    std::vector<int> graced(n, 0);
    concurrently(n, [&](int i) {
        auto won =
            write([&](Repositories& r) { return r.grants().mark_rotated("rt-1", 1100 + i); });
        EXPECT_OK(won);
        rotated[i] = won && *won;
        auto spent = write([&](Repositories& r) { return r.grants().spend_grace("rt-1"); });
        EXPECT_OK(spent);
        graced[i] = spent && *spent;
    });
    EXPECT_EQ(std::count(rotated.begin(), rotated.end(), 1), 1);
    EXPECT_EQ(std::count(graced.begin(), graced.end(), 1), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, GrantRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
