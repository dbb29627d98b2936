// outbox::OutboxRepository on every backend: claiming what is due (a lease on each message until
// `claimed_until`), failure with backoff, delivery (which clears the bodies) and the backlog.
#include "backend_fixture.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

using outbox::Email;

class OutboxRepositoryTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        seed_user("u-1", "one@example.com");
    }

    Email email(const std::string& id, std::int64_t created_at = 1000,
                std::int64_t next_attempt_at = 1000) {
        Email e;
        e.id = id;
        e.kind = "welcome";
        e.user_id = "u-1";
        e.recipient = "Zoë <one@example.com>";
        e.subject = "Welcome to “PostHog”";
        e.body_text = "Hello,\n\nset your password: {{set_password_token}}\n";
        e.body_html = "<p>Hello, <a href=\"{{set_password_token}}\">set it</a></p>";
        e.created_at = created_at;
        e.next_attempt_at = next_attempt_at;
        return e;
    }

    void enqueue(const Email& e) {
        EXPECT_OK(write([&](Repositories& r) { return r.outbox().enqueue(e); }));
    }

    Result<std::vector<Email>> claim_all(std::int64_t now, std::int64_t limit,
                                         std::int64_t claimed_until) {
        return write(
            [&](Repositories& r) { return r.outbox().claim_due(now, limit, claimed_until); });
    }

    /// The ids claimed at `now` (for `lease` seconds).
    std::vector<std::string> claim(std::int64_t now, std::int64_t limit = 100,
                                   std::int64_t lease = 60) {
        auto claimed = claim_all(now, limit, now + lease);
        EXPECT_OK(claimed);
        std::vector<std::string> out;
        if (claimed) {
            for (const auto& e : *claimed) {
                out.push_back(e.id);
            }
        }
        return out;
    }

    outbox::OutboxBacklog backlog() {
        auto b = read([&](Repositories& r) { return r.outbox().backlog(); });
        EXPECT_OK(b);
        return b ? *b : outbox::OutboxBacklog{-1, std::nullopt};
    }

    using Ids = std::vector<std::string>;
};

TEST_P(OutboxRepositoryTest, ClaimedMessageRoundTripsEveryField) {
    Email e = email("m-1");
    e.attempts = 2;
    enqueue(e);
    Email plain = email("m-2", 1001);
    plain.kind = "password_reset";
    plain.user_id.reset();
    plain.body_html = "";
    enqueue(plain);
    auto claimed = claim_all(1000, 10, 1060);
    ASSERT_OK(claimed);
    ASSERT_EQ(claimed->size(), 2u);
    const Email& got = claimed->front();
    EXPECT_EQ(got.id, "m-1");
    EXPECT_EQ(got.kind, "welcome");
    EXPECT_EQ(got.user_id, "u-1");
    EXPECT_EQ(got.recipient, e.recipient);
    EXPECT_EQ(got.subject, e.subject);
    EXPECT_EQ(got.body_text, e.body_text);
    EXPECT_EQ(got.body_html, e.body_html);
    EXPECT_EQ(got.created_at, 1000);
    EXPECT_EQ(got.attempts, 2);
    EXPECT_EQ(got.next_attempt_at, 1000) << "as it was when claimed";
    EXPECT_EQ(claimed->back().id, "m-2");
    EXPECT_EQ(claimed->back().kind, "password_reset");
    EXPECT_EQ(claimed->back().user_id, std::nullopt);
    EXPECT_EQ(claimed->back().body_html, "");
}

TEST_P(OutboxRepositoryTest, MessageIdIsUnique) {
    enqueue(email("m-1"));
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.outbox().enqueue(email("m-1")); }));
}

TEST_P(OutboxRepositoryTest, ClaimTakesDueMessagesInOrderUpToTheLimit) {
    enqueue(email("m-later", 1000, 1500));
    enqueue(email("m-b", 1002, 1000));
    enqueue(email("m-a", 1001, 1000));
    enqueue(email("m-first", 1005, 900));
    EXPECT_EQ(claim(899), Ids{});
    EXPECT_EQ(claim(1000, 2, 10'000), (Ids{"m-first", "m-a"}))
        << "by next attempt, then by creation";
    EXPECT_EQ(claim(1000, 100, 10'000), (Ids{"m-b"})) << "the others are claimed";
    EXPECT_EQ(claim(1500, 100, 10'000), (Ids{"m-later"}));
    // Claims that ran out: due again, all at the same time, oldest first.
    EXPECT_EQ(claim(11'500), (Ids{"m-a", "m-b", "m-first", "m-later"}));
}

TEST_P(OutboxRepositoryTest, AClaimedMessageIsClaimedAgainOnlyOnceItsClaimEnds) {
    enqueue(email("m-1"));
    auto first = claim_all(1000, 10, 1060);
    ASSERT_OK(first);
    ASSERT_EQ(first->size(), 1u);
    EXPECT_EQ(claim(1000), Ids{}) << "another process does not send it meanwhile";
    EXPECT_EQ(claim(1059), Ids{});
    // The sender died: the message is due again when the claim ends (at least once).
    auto again = claim_all(1060, 10, 1120);
    ASSERT_OK(again);
    ASSERT_EQ(again->size(), 1u);
    EXPECT_EQ(again->front().id, "m-1");
    EXPECT_EQ(again->front().attempts, 0) << "a claim is not an attempt";
    EXPECT_EQ(again->front().body_text, email("m-1").body_text);
    EXPECT_EQ(backlog().waiting, 1) << "claimed messages still wait";
}

TEST_P(OutboxRepositoryTest, ClaimsInOneTransactionDoNotOverlap) {
    enqueue(email("m-1", 1000));
    enqueue(email("m-2", 1001));
    auto both = write([&](Repositories& r) -> Result<std::vector<std::string>> {
        std::vector<std::string> ids;
        for (int i = 0; i < 2; ++i) {
            auto claimed = r.outbox().claim_due(1000, 1, 1060);
            if (!claimed) {
                return claimed.error();
            }
            for (const auto& e : *claimed) {
                ids.push_back(e.id);
            }
        }
        return ids;
    });
    ASSERT_OK(both);
    EXPECT_EQ(*both, (Ids{"m-1", "m-2"}));
}

TEST_P(OutboxRepositoryTest, FailedMessageWaitsForItsNextAttempt) {
    enqueue(email("m-1"));
    ASSERT_EQ(claim(1000), Ids{"m-1"});
    ASSERT_OK(write([&](Repositories& r) {
        return r.outbox().mark_failed("m-1", "550 mailbox unavailable", 1600);
    }));
    EXPECT_EQ(claim(1599), Ids{});
    auto due = claim_all(1600, 10, 1660);
    ASSERT_OK(due);
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ(due->front().attempts, 1);
    EXPECT_EQ(due->front().next_attempt_at, 1600);
    EXPECT_EQ(due->front().body_text, email("m-1").body_text) << "a failure keeps the body";
    ASSERT_OK(write([&](Repositories& r) { return r.outbox().mark_failed("m-1", "again", 1700); }));
    due = claim_all(1700, 10, 1760);
    ASSERT_OK(due);
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ(due->front().attempts, 2);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM outbox WHERE id = 'm-1' AND last_error = 'again'"), 1);
    EXPECT_EQ(backlog().waiting, 1);
}

TEST_P(OutboxRepositoryTest, DeliveredMessageIsNeverClaimedAgainAndLosesItsBodies) {
    enqueue(email("m-1"));
    enqueue(email("m-2", 1000, 3000));
    ASSERT_EQ(claim(1000), Ids{"m-1"});
    ASSERT_OK(
        write([&](Repositories& r) { return r.outbox().mark_failed("m-1", "timeout", 1000); }));
    ASSERT_OK(write([&](Repositories& r) { return r.outbox().mark_delivered("m-1", 1100); }));
    EXPECT_EQ(claim(5000), Ids{"m-2"});
    EXPECT_EQ(claim(9000), Ids{"m-2"}) << "m-1 is never due again";
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM outbox WHERE id = 'm-1' AND body_text = '' AND "
                     "body_html = '' AND delivered_at = 1100 AND attempts = 2 AND "
                     "last_error IS NULL"),
              1);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM outbox WHERE id = 'm-2' AND body_text <> ''"), 1);
}

TEST_P(OutboxRepositoryTest, BacklogCountsWhatWaitsAndItsOldest) {
    auto empty = backlog();
    EXPECT_EQ(empty.waiting, 0);
    EXPECT_EQ(empty.oldest_created_at, std::nullopt);
    enqueue(email("m-1", 1200));
    enqueue(email("m-2", 1100, 5000)); // not due yet, still waiting
    enqueue(email("m-3", 1300));
    auto b = backlog();
    EXPECT_EQ(b.waiting, 3);
    EXPECT_EQ(b.oldest_created_at, 1100);
    ASSERT_OK(write([&](Repositories& r) { return r.outbox().mark_delivered("m-2", 1400); }));
    b = backlog();
    EXPECT_EQ(b.waiting, 2);
    EXPECT_EQ(b.oldest_created_at, 1200);
}

TEST_P(OutboxRepositoryTest, MarkingAnUnknownMessageChangesNothing) {
    enqueue(email("m-1"));
    EXPECT_OK(write([&](Repositories& r) { return r.outbox().mark_delivered("m-404", 1100); }));
    EXPECT_OK(write([&](Repositories& r) { return r.outbox().mark_failed("m-404", "x", 1100); }));
    EXPECT_EQ(claim(1000), Ids{"m-1"});
}

TEST_P(OutboxRepositoryTest, ConcurrentClaimsTakeEachMessageOnce) {
    constexpr int messages = 20;
    for (int i = 0; i < messages; ++i) {
        enqueue(email("m-" + std::to_string(100 + i), 1000 + i));
    }
    constexpr int workers = 4;
    std::vector<std::vector<std::string>> taken(workers);
    concurrently(workers, [&](int w) {
        for (;;) {
            auto batch = claim(1000 + messages, 3, 10'000);
            if (batch.empty()) {
                break;
            }
            taken[w].insert(taken[w].end(), batch.begin(), batch.end());
        }
    });
    std::vector<std::string> all;
    for (const auto& t : taken) {
        all.insert(all.end(), t.begin(), t.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all.size(), std::size_t{messages});
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a message claimed twice";
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
