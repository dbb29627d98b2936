// maintenance::PurgeRepository on every backend: each kind of row is purged in batches of at most
// `limit`, and only when its time column is before the cutoff (and, where the kind says so, only
// once delivered, fanned out or logged).
#include "backend_fixture.hpp"

#include <functional>

namespace provisiond::conformance {
namespace {

using maintenance::Purgeable;

/// Adds one row of the kind under test, keyed by `key`, whose time column is `t`.
using Adder = std::function<Result<void>(Repositories&, const std::string& key, std::int64_t t)>;

class PurgeRepositoryTest : public BackendTest {
protected:
    static constexpr std::int64_t cutoff = 200;

    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        w_ = seed_world();
        oauth::TokenFamily f;
        f.id = "fam";
        f.client_id = w_.client_id;
        f.user_id = w_.user_id;
        f.organization_id = w_.organization_id;
        f.project_ids = {w_.project_id};
        f.created_at = 1;
        ASSERT_OK(write([&](Repositories& r) { return r.grants().insert_family(f); }));
    }

    std::int64_t rows(Purgeable kind) {
        return scalar("SELECT COUNT(*) FROM " + std::string(maintenance::table_of(kind)));
    }

    std::int64_t purge(Purgeable kind, std::int64_t limit) {
        auto n = purged(kind, limit);
        return n.rows;
    }

    maintenance::Purged purged(Purgeable kind, std::int64_t limit) {
        auto n = write([&](Repositories& r) { return r.purges().purge(kind, cutoff, limit); });
        EXPECT_OK(n);
        return n ? *n : maintenance::Purged{-1, -1};
    }

    /// A family of the seeded world with the given id.
    Result<void> add_family(Repositories& r, const std::string& id) {
        oauth::TokenFamily f;
        f.id = id;
        f.client_id = w_.client_id;
        f.user_id = w_.user_id;
        f.organization_id = w_.organization_id;
        f.project_ids = {w_.project_id};
        f.created_at = 1;
        return r.grants().insert_family(f);
    }

    Result<void> add_access(Repositories& r, const std::string& family, const std::string& key,
                            std::int64_t expires_at) {
        return r.grants().insert_access_token({key, family, expires_at - 10, expires_at, {}});
    }

    Result<void> add_refresh(Repositories& r, const std::string& family, const std::string& key,
                             std::int64_t expires_at) {
        return r.grants().insert_refresh_token(
            {key, family, std::nullopt, "at-" + key, expires_at - 10, expires_at, {}, false, {}});
    }

    bool family_exists(const std::string& id) {
        auto found = read([&](Repositories& r) { return r.grants().find_family(id); });
        EXPECT_OK(found);
        return found && found->has_value();
    }

    /// Five rows before the cutoff, one at it and one after it (plus `kept`, rows the test added
    /// that must stay): batches of two remove 2, 2 and 1, and leave the rest.
    void expect_purges_only_expired(Purgeable kind, const Adder& add, std::int64_t kept = 0) {
        ASSERT_OK(write([&](Repositories& r) -> Result<void> {
            for (int i = 0; i < 5; ++i) {
                RETURN_IF_ERROR(add(r, "old-" + std::to_string(i), 100 + i));
            }
            RETURN_IF_ERROR(add(r, "at-cutoff", cutoff));
            return add(r, "new", 300);
        }));
        ASSERT_EQ(rows(kind), 7 + kept);
        std::vector<std::int64_t> batches;
        for (int guard = 0; guard < 10; ++guard) {
            std::int64_t n = purge(kind, 2);
            batches.push_back(n);
            if (n < 2) {
                break;
            }
        }
        EXPECT_EQ(batches, (std::vector<std::int64_t>{2, 2, 1}));
        EXPECT_EQ(rows(kind), 2 + kept);
        EXPECT_EQ(purge(kind, 100), 0) << "nothing more to purge";
    }

    oauth::AuthorizationCode code(const std::string& key, std::int64_t expires_at) {
        oauth::AuthorizationCode k;
        k.code_hash = key;
        k.client_id = w_.client_id;
        k.user_id = w_.user_id;
        k.organization_id = w_.organization_id;
        k.project_id = w_.project_id;
        k.code_challenge = "c";
        k.code_challenge_method = "S256";
        k.issued_at = expires_at - 10;
        k.expires_at = expires_at;
        return k;
    }

    outbox::Email email(const std::string& key, std::int64_t created_at) {
        outbox::Email e;
        e.id = key;
        e.kind = "welcome";
        e.recipient = "one@example.com";
        e.subject = "s";
        e.body_text = "b";
        e.created_at = created_at;
        e.next_attempt_at = created_at;
        return e;
    }

    World w_;
};

TEST_P(PurgeRepositoryTest, AuthorizationCodes) {
    expect_purges_only_expired(
        Purgeable::authorization_codes,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            return r.grants().insert_code(code(key, t));
        });
    auto kept = read([&](Repositories& r) { return r.grants().find_code("at-cutoff"); });
    ASSERT_OK(kept);
    EXPECT_TRUE(kept->has_value()) << "a row whose time is the cutoff stays";
    auto gone = read([&](Repositories& r) { return r.grants().find_code("old-0"); });
    ASSERT_OK(gone);
    EXPECT_FALSE(gone->has_value());
}

TEST_P(PurgeRepositoryTest, AccessTokens) {
    expect_purges_only_expired(
        Purgeable::access_tokens,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            return r.grants().insert_access_token({key, "fam", t - 10, t, {}});
        });
    auto kept = read([&](Repositories& r) { return r.grants().find_access_token("new"); });
    ASSERT_OK(kept);
    EXPECT_TRUE(kept->has_value());
}

TEST_P(PurgeRepositoryTest, RefreshTokens) {
    expect_purges_only_expired(
        Purgeable::refresh_tokens,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            return r.grants().insert_refresh_token(
                {key, "fam", std::nullopt, "at-" + key, t - 10, t, {}, false, {}});
        });
    auto kept = read([&](Repositories& r) { return r.grants().find_refresh_token("at-cutoff"); });
    ASSERT_OK(kept);
    EXPECT_TRUE(kept->has_value());
}

TEST_P(PurgeRepositoryTest, AFamilyGoesWithItsLastTokenOfEitherKind) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        // rotated: its access token and its first refresh token expired, its newest is live.
        RETURN_IF_ERROR(add_family(r, "rotated"));
        RETURN_IF_ERROR(add_access(r, "rotated", "rotated-at", 100));
        RETURN_IF_ERROR(add_refresh(r, "rotated", "rotated-rt-1", 100));
        RETURN_IF_ERROR(add_refresh(r, "rotated", "rotated-rt-2", 300));
        // done: every token expired; the access token outlives the refresh token here.
        RETURN_IF_ERROR(add_family(r, "done"));
        RETURN_IF_ERROR(add_access(r, "done", "done-at", 150));
        return add_refresh(r, "done", "done-rt", 100);
    }));
    auto refresh = purged(Purgeable::refresh_tokens, 100);
    EXPECT_EQ(refresh.rows, 2);
    EXPECT_EQ(refresh.families, 0) << "both families still hold a token";
    auto access = purged(Purgeable::access_tokens, 100);
    EXPECT_EQ(access.rows, 2);
    EXPECT_EQ(access.families, 1) << "done lost its last token";
    EXPECT_FALSE(family_exists("done"));
    EXPECT_TRUE(family_exists("rotated")) << "its newest refresh token is live";
    EXPECT_TRUE(family_exists("fam")) << "a family no purged token belonged to is not looked at";
    EXPECT_EQ(purged(Purgeable::refresh_tokens, 100).families, 0);
}

TEST_P(PurgeRepositoryTest, ManyFamiliesEmptiedInOneBatch) {
    // More families than one delete statement takes, and not a multiple of it.
    constexpr int families = 70;
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        for (int i = 0; i < families; ++i) {
            std::string id = "many-" + std::to_string(i);
            RETURN_IF_ERROR(add_family(r, id));
            RETURN_IF_ERROR(add_refresh(r, id, id + "-rt-a", 100));
            RETURN_IF_ERROR(add_refresh(r, id, id + "-rt-b", 110));
        }
        return {};
    }));
    auto batch = purged(Purgeable::refresh_tokens, 1000);
    EXPECT_EQ(batch.rows, 2 * families);
    EXPECT_EQ(batch.families, families);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM token_families"), 1) << "only fam is left";
}

TEST_P(PurgeRepositoryTest, PendingConsents) {
    expect_purges_only_expired(
        Purgeable::pending_consents,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            provisioning::PendingConsent p;
            p.state_hash = key;
            p.client_id = w_.client_id;
            p.email_normalized = key + "@example.com"; // one per email: replace keeps the newest
            p.user_id = w_.user_id;
            p.region = "US";
            p.code_challenge = "c";
            p.code_challenge_method = "S256";
            p.created_at = t - 10;
            p.expires_at = t;
            return r.provisioning().replace_pending_consent(p);
        });
}

TEST_P(PurgeRepositoryTest, AuthorizationRequests) {
    expect_purges_only_expired(
        Purgeable::authorization_requests,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            web::AuthorizationRequest a;
            a.state_hash = key;
            a.client_id = w_.client_id;
            a.redirect_uri = "https://partner.example/cb";
            a.code_challenge = "c";
            a.created_at = t - 10;
            a.expires_at = t;
            return r.browser().insert_authorization_request(a);
        });
}

TEST_P(PurgeRepositoryTest, Sessions) {
    expect_purges_only_expired(
        Purgeable::sessions,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            return r.browser().insert_session({key, w_.user_id, t - 10, t - 10, t});
        });
    auto kept = read([&](Repositories& r) { return r.browser().find_session("new"); });
    ASSERT_OK(kept);
    EXPECT_TRUE(kept->has_value());
}

TEST_P(PurgeRepositoryTest, DeepLinks) {
    expect_purges_only_expired(
        Purgeable::deep_links,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            web::DeepLink d;
            d.token_hash = key;
            d.user_id = w_.user_id;
            d.client_id = w_.client_id;
            d.purpose = "login";
            d.created_at = t - 10;
            d.expires_at = t;
            return r.browser().insert_deep_link(d);
        });
}

TEST_P(PurgeRepositoryTest, Reveals) {
    expect_purges_only_expired(
        Purgeable::reveals,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            return r.browser().insert_reveal({key, w_.user_id, "personal_api_key", "box", t});
        });
}

TEST_P(PurgeRepositoryTest, PasswordLinks) {
    expect_purges_only_expired(
        Purgeable::password_links,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            // One user per link: a new link replaces the user's unused earlier ones.
            accounts::User u;
            u.id = "pw-" + key;
            u.email = u.email_normalized = key + "@example.com";
            u.created_at = 1;
            RETURN_IF_ERROR(r.accounts().insert_user(u));
            return r.accounts().replace_password_set_token(key, u.id, t - 10, t);
        });
}

TEST_P(PurgeRepositoryTest, RateLimitWindows) {
    expect_purges_only_expired(
        Purgeable::rate_limit_windows,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.rate_limits().increment(key, t));
            return {};
        });
}

TEST_P(PurgeRepositoryTest, RateLimitWindowsOfOneBucket) {
    // The composite key: several windows of one bucket, purged by (bucket, window_start).
    expect_purges_only_expired(
        Purgeable::rate_limit_windows,
        [&](Repositories& r, const std::string&, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.rate_limits().increment("bucket", t));
            return {};
        });
    auto kept = read([&](Repositories& r) { return r.rate_limits().current("bucket", cutoff); });
    ASSERT_OK(kept);
    EXPECT_EQ(*kept, 1);
}

TEST_P(PurgeRepositoryTest, DeliveredEmailsOnly) {
    // Undelivered messages stay, however old.
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.outbox().enqueue(email("waiting-1", 1)));
        return r.outbox().enqueue(email("waiting-2", 1));
    }));
    expect_purges_only_expired(
        Purgeable::delivered_emails,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.outbox().enqueue(email(key, 1)));
            return r.outbox().mark_delivered(key, t);
        },
        2);
    auto backlog = read([&](Repositories& r) { return r.outbox().backlog(); });
    ASSERT_OK(backlog);
    EXPECT_EQ(backlog->waiting, 2);
}

TEST_P(PurgeRepositoryTest, DeliveredWebhooksOnly) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.webhooks().enqueue({"msg_waiting", "account.created", "{}", 1}));
        return r.webhooks().fan_out("msg_waiting", {"ep_a", "ep_b"}, 1);
    }));
    expect_purges_only_expired(
        Purgeable::delivered_webhooks,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.webhooks().enqueue({key, "account.created", "{}", 1}));
            RETURN_IF_ERROR(r.webhooks().fan_out(key, {"ep_a"}, 1));
            return r.webhooks().mark_delivered(key, "ep_a", t);
        },
        2);
    auto pending = read([&](Repositories& r) { return r.webhooks().pending_counts(); });
    ASSERT_OK(pending);
    EXPECT_EQ(*pending,
              (std::vector<std::pair<std::string, std::int64_t>>{{"ep_a", 1}, {"ep_b", 1}}));
}

TEST_P(PurgeRepositoryTest, WebhookEventsOnceFannedOutWithNoDeliveryLeft) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& h = r.webhooks();
        // Not fanned out yet.
        RETURN_IF_ERROR(h.enqueue({"msg_unfanned", "account.created", "{}", 1}));
        // A copy still waits for delivery.
        RETURN_IF_ERROR(h.enqueue({"msg_pending", "account.created", "{}", 1}));
        RETURN_IF_ERROR(h.fan_out("msg_pending", {"ep_a"}, 1));
        // A delivered copy not purged yet.
        RETURN_IF_ERROR(h.enqueue({"msg_delivered", "account.created", "{}", 1}));
        RETURN_IF_ERROR(h.fan_out("msg_delivered", {"ep_a"}, 1));
        return h.mark_delivered("msg_delivered", "ep_a", 2);
    }));
    expect_purges_only_expired(
        Purgeable::webhook_events,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.webhooks().enqueue({key, "account.created", "{}", t}));
            return r.webhooks().fan_out(key, {}, t);
        },
        3);
    // Once its delivered copy is purged, that event goes too.
    EXPECT_EQ(purge(Purgeable::delivered_webhooks, 100), 1);
    EXPECT_EQ(purge(Purgeable::webhook_events, 100), 1);
    EXPECT_EQ(rows(Purgeable::webhook_events), 4) << "at-cutoff, new, unfanned, pending";
}

TEST_P(PurgeRepositoryTest, AuditEventsOnceLogged) {
    auto event = [](const std::string& id, std::int64_t t) {
        return audit::AuditEvent{id, t, "login.failed", {"user", "", "", ""}, "{}"};
    };
    ASSERT_OK(write([&](Repositories& r) { return r.audit().record(event("unlogged", 1)); }));
    expect_purges_only_expired(
        Purgeable::audit_events,
        [&](Repositories& r, const std::string& key, std::int64_t t) -> Result<void> {
            RETURN_IF_ERROR(r.audit().record(event(key, t)));
            return r.audit().mark_logged({key}, t);
        },
        1);
    auto waiting = read([&](Repositories& r) { return r.audit().unlogged(10); });
    ASSERT_OK(waiting);
    ASSERT_EQ(waiting->size(), 1u);
    EXPECT_EQ(waiting->front().id, "unlogged");
}

TEST_P(PurgeRepositoryTest, ALimitAboveWhatIsExpiredPurgesItAllInOneBatch) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        for (int i = 0; i < 3; ++i) {
            RETURN_IF_ERROR(
                r.browser().insert_session({"s-" + std::to_string(i), w_.user_id, 1, 1, 100 + i}));
        }
        return r.browser().insert_session({"s-live", w_.user_id, 1, 1, 500});
    }));
    EXPECT_EQ(purge(Purgeable::sessions, 1000), 3);
    EXPECT_EQ(rows(Purgeable::sessions), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, PurgeRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
