// webhooks::WebhookRepository on every backend: events, their fan-out to endpoints, claiming due
// deliveries (a lease until `claimed_until`) with backoff, and the endpoints themselves.
#include "backend_fixture.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

using webhooks::Endpoint;
using webhooks::WebhookEvent;

class WebhookRepositoryTest : public BackendTest {
protected:
    WebhookEvent event(const std::string& id, std::int64_t created_at = 1000) {
        return WebhookEvent{
            id, "account.created",
            R"({"type":"account.created","timestamp":"2027-01-15T08:00:00Z","data":{"user":{"id":"u-1","email":"zoë@example.com"}}})",
            created_at};
    }
    void enqueue(const WebhookEvent& e) {
        EXPECT_OK(write([&](Repositories& r) { return r.webhooks().enqueue(e); }));
    }
    void fan_out(const std::string& id, const std::vector<std::string>& endpoints,
                 std::int64_t now) {
        EXPECT_OK(write([&](Repositories& r) { return r.webhooks().fan_out(id, endpoints, now); }));
    }
    std::vector<std::string> unfanned(std::int64_t limit = 100) {
        auto events = read([&](Repositories& r) { return r.webhooks().unfanned(limit); });
        EXPECT_OK(events);
        std::vector<std::string> out;
        if (events) {
            for (const auto& e : *events) {
                out.push_back(e.id);
            }
        }
        return out;
    }
    Result<std::vector<webhooks::Delivery>> claim_all(std::int64_t now, std::int64_t limit,
                                                      std::int64_t claimed_until) {
        return write(
            [&](Repositories& r) { return r.webhooks().claim_due(now, limit, claimed_until); });
    }
    /// "event→endpoint" of each delivery claimed at `now` (for `lease` seconds), in order.
    std::vector<std::string> claim(std::int64_t now, std::int64_t limit = 100,
                                   std::int64_t lease = 60) {
        auto deliveries = claim_all(now, limit, now + lease);
        EXPECT_OK(deliveries);
        std::vector<std::string> out;
        if (deliveries) {
            for (const auto& d : *deliveries) {
                out.push_back(d.event.id + "→" + d.endpoint_id);
            }
        }
        return out;
    }
    std::vector<std::pair<std::string, std::int64_t>> pending() {
        auto counts = read([&](Repositories& r) { return r.webhooks().pending_counts(); });
        EXPECT_OK(counts);
        return counts ? *counts : std::vector<std::pair<std::string, std::int64_t>>{};
    }
    using Counts = std::vector<std::pair<std::string, std::int64_t>>;
};

TEST_P(WebhookRepositoryTest, EventRoundTripsUntilFannedOut) {
    WebhookEvent e = event("msg_1");
    enqueue(e);
    auto events = read([&](Repositories& r) { return r.webhooks().unfanned(10); });
    ASSERT_OK(events);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ(events->front().id, "msg_1");
    EXPECT_EQ(events->front().type, "account.created");
    EXPECT_EQ(events->front().body, e.body) << "the exact bytes that are signed";
    EXPECT_EQ(events->front().created_at, 1000);
    fan_out("msg_1", {}, 1100);
    EXPECT_EQ(unfanned(), (std::vector<std::string>{})) << "no endpoint wanted it";
    EXPECT_EQ(claim(5000), (std::vector<std::string>{}));
}

TEST_P(WebhookRepositoryTest, EventIdIsUnique) {
    enqueue(event("msg_1"));
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.webhooks().enqueue(event("msg_1")); }));
}

TEST_P(WebhookRepositoryTest, UnfannedEventsOldestFirstUpToTheLimit) {
    enqueue(event("msg_c", 2000));
    enqueue(event("msg_b", 1000));
    enqueue(event("msg_a", 1000));
    enqueue(event("msg_d", 3000));
    EXPECT_EQ(unfanned(), (std::vector<std::string>{"msg_a", "msg_b", "msg_c", "msg_d"}));
    EXPECT_EQ(unfanned(2), (std::vector<std::string>{"msg_a", "msg_b"}));
    fan_out("msg_b", {"ep_1"}, 3000);
    EXPECT_EQ(unfanned(2), (std::vector<std::string>{"msg_a", "msg_c"}));
}

TEST_P(WebhookRepositoryTest, FanOutMakesOneDueDeliveryPerEndpointOnce) {
    enqueue(event("msg_1"));
    fan_out("msg_1", {"ep_b", "settings", "ep_a"}, 1100);
    EXPECT_EQ(claim(1099), (std::vector<std::string>{}));
    auto deliveries = claim_all(1100, 10, 1160);
    ASSERT_OK(deliveries);
    ASSERT_EQ(deliveries->size(), 3u);
    std::vector<std::string> endpoints;
    for (const auto& d : *deliveries) {
        endpoints.push_back(d.endpoint_id);
        EXPECT_EQ(d.event.id, "msg_1");
        EXPECT_EQ(d.event.type, "account.created");
        EXPECT_EQ(d.event.body, event("msg_1").body);
        EXPECT_EQ(d.event.created_at, 1000);
        EXPECT_EQ(d.attempts, 0);
    }
    std::sort(endpoints.begin(), endpoints.end());
    EXPECT_EQ(endpoints, (std::vector<std::string>{"ep_a", "ep_b", "settings"}));
    // A second fan-out (a retry after a crash) adds nothing twice.
    fan_out("msg_1", {"ep_a", "ep_c"}, 1200);
    EXPECT_EQ(pending(), (Counts{{"ep_a", 1}, {"ep_b", 1}, {"ep_c", 1}, {"settings", 1}}));
    EXPECT_CONFLICT(write([&](Repositories& r) {
        return r.webhooks().fan_out("msg_404", {"ep_a"}, 1200);
    })) << "a delivery needs its event";
}

TEST_P(WebhookRepositoryTest, ClaimTakesDueDeliveriesInOrderOfNextAttemptThenEvent) {
    enqueue(event("msg_2", 2000));
    enqueue(event("msg_1", 1000));
    enqueue(event("msg_3", 3000));
    fan_out("msg_2", {"ep_a"}, 5000);
    fan_out("msg_1", {"ep_a"}, 5000);
    fan_out("msg_3", {"ep_a"}, 4000);
    EXPECT_EQ(claim(3999), (std::vector<std::string>{}));
    EXPECT_EQ(claim(5000, 2, 4000), (std::vector<std::string>{"msg_3→ep_a", "msg_1→ep_a"}));
    EXPECT_EQ(claim(5000, 10, 4000), (std::vector<std::string>{"msg_2→ep_a"}))
        << "the others are claimed";
    EXPECT_EQ(claim(8999), (std::vector<std::string>{}));
    // Claims that ran out (the worker died): due again, all at the same time, oldest event first.
    EXPECT_EQ(claim(9000), (std::vector<std::string>{"msg_1→ep_a", "msg_2→ep_a", "msg_3→ep_a"}));
}

TEST_P(WebhookRepositoryTest, FailedDeliveryWaitsAndCountsItsAttempts) {
    enqueue(event("msg_1"));
    fan_out("msg_1", {"ep_a", "ep_b"}, 1000);
    ASSERT_EQ(claim(1000, 100, 30).size(), 2u);
    ASSERT_OK(write([&](Repositories& r) {
        return r.webhooks().mark_failed("msg_1", "ep_a", "HTTP 503", 1060);
    }));
    EXPECT_EQ(claim(1030), (std::vector<std::string>{"msg_1→ep_b"})) << "its claim ran out";
    auto deliveries = claim_all(1060, 10, 1120);
    ASSERT_OK(deliveries);
    ASSERT_EQ(deliveries->size(), 1u);
    EXPECT_EQ(deliveries->front().endpoint_id, "ep_a");
    EXPECT_EQ(deliveries->front().attempts, 1);
    ASSERT_OK(write([&](Repositories& r) {
        return r.webhooks().mark_failed("msg_1", "ep_a", "timeout", 1200);
    }));
    deliveries = claim_all(1200, 10, 1260);
    ASSERT_OK(deliveries);
    ASSERT_EQ(deliveries->size(), 2u);
    EXPECT_EQ(deliveries->front().endpoint_id, "ep_b") << "due since 1090";
    EXPECT_EQ(deliveries->back().endpoint_id, "ep_a");
    EXPECT_EQ(deliveries->back().attempts, 2);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = 'ep_a' AND "
                     "last_error = 'timeout'"),
              1);
}

TEST_P(WebhookRepositoryTest, DeliveredDeliveryIsNeverClaimedAgainNorPending) {
    enqueue(event("msg_1"));
    enqueue(event("msg_2"));
    fan_out("msg_1", {"ep_a", "ep_b"}, 1000);
    fan_out("msg_2", {"ep_a"}, 1000);
    EXPECT_EQ(pending(), (Counts{{"ep_a", 2}, {"ep_b", 1}}));
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.webhooks().mark_failed("msg_1", "ep_a", "HTTP 500", 1000));
        return r.webhooks().mark_delivered("msg_1", "ep_a", 1050);
    }));
    EXPECT_EQ(claim(5000), (std::vector<std::string>{"msg_1→ep_b", "msg_2→ep_a"}));
    EXPECT_EQ(pending(), (Counts{{"ep_a", 1}, {"ep_b", 1}}));
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = 'msg_1' AND "
                     "endpoint_id = 'ep_a' AND delivered_at = 1050 AND attempts = 2 AND "
                     "last_error IS NULL"),
              1);
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.webhooks().mark_delivered("msg_1", "ep_b", 1060));
        return r.webhooks().mark_delivered("msg_2", "ep_a", 1060);
    }));
    EXPECT_EQ(pending(), Counts{});
    EXPECT_EQ(claim(9000), (std::vector<std::string>{}));
    EXPECT_OK(write([&](Repositories& r) { return r.webhooks().mark_delivered("msg_9", "x", 1); }));
}

TEST_P(WebhookRepositoryTest, EndpointsRoundTripOldestFirst) {
    Endpoint all{"ep_all", "https://hooks.example/all?token=a&b=c", "sealed-secret-1", {}, 2000};
    Endpoint some{"ep_some",
                  "https://hooks.example/some",
                  "sealed-secret-2",
                  {"account.created", "grant.revoked"},
                  1000};
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.webhooks().insert_endpoint(all));
        return r.webhooks().insert_endpoint(some);
    }));
    auto endpoints = read([&](Repositories& r) { return r.webhooks().endpoints(); });
    ASSERT_OK(endpoints);
    ASSERT_EQ(endpoints->size(), 2u);
    const Endpoint& first = endpoints->front();
    EXPECT_EQ(first.id, "ep_some");
    EXPECT_EQ(first.url, some.url);
    EXPECT_EQ(first.secret_box, "sealed-secret-2");
    EXPECT_EQ(first.events, some.events);
    EXPECT_EQ(first.created_at, 1000);
    const Endpoint& second = endpoints->back();
    EXPECT_EQ(second.id, "ep_all");
    EXPECT_EQ(second.url, all.url);
    EXPECT_TRUE(second.events.empty()) << "every event";
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.webhooks().insert_endpoint(all); }));
}

TEST_P(WebhookRepositoryTest, RemovingAnEndpointDropsWhatStillWaitedForIt) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.webhooks().insert_endpoint({"ep_a", "https://a.example", "s", {}, 1}));
        return r.webhooks().insert_endpoint({"ep_b", "https://b.example", "s", {}, 2});
    }));
    enqueue(event("msg_1"));
    enqueue(event("msg_2"));
    fan_out("msg_1", {"ep_a", "ep_b"}, 1000);
    fan_out("msg_2", {"ep_a"}, 1000);
    ASSERT_OK(
        write([&](Repositories& r) { return r.webhooks().mark_delivered("msg_1", "ep_a", 1010); }));
    auto removed = write([&](Repositories& r) { return r.webhooks().remove_endpoint("ep_a"); });
    ASSERT_OK(removed);
    EXPECT_TRUE(*removed);
    EXPECT_EQ(pending(), (Counts{{"ep_b", 1}}));
    EXPECT_EQ(claim(5000), (std::vector<std::string>{"msg_1→ep_b"}));
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = 'ep_a'"), 1)
        << "the delivered copy stays until maintenance purges it";
    auto endpoints = read([&](Repositories& r) { return r.webhooks().endpoints(); });
    ASSERT_OK(endpoints);
    ASSERT_EQ(endpoints->size(), 1u);
    EXPECT_EQ(endpoints->front().id, "ep_b");
    removed = write([&](Repositories& r) { return r.webhooks().remove_endpoint("ep_a"); });
    ASSERT_OK(removed);
    EXPECT_FALSE(*removed);
}

TEST_P(WebhookRepositoryTest, ReplaceSecretSaysWhetherTheEndpointExists) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.webhooks().insert_endpoint(
            {"ep_a", "https://a.example", "old", {"grant.revoked"}, 1});
    }));
    auto replaced =
        write([&](Repositories& r) { return r.webhooks().replace_secret("ep_a", "new"); });
    ASSERT_OK(replaced);
    EXPECT_TRUE(*replaced);
    auto endpoints = read([&](Repositories& r) { return r.webhooks().endpoints(); });
    ASSERT_OK(endpoints);
    ASSERT_EQ(endpoints->size(), 1u);
    EXPECT_EQ(endpoints->front().secret_box, "new");
    EXPECT_EQ(endpoints->front().events, (std::vector<std::string>{"grant.revoked"}));
    replaced = write([&](Repositories& r) { return r.webhooks().replace_secret("ep_b", "new"); });
    ASSERT_OK(replaced);
    EXPECT_FALSE(*replaced);
}

TEST_P(WebhookRepositoryTest, ConcurrentClaimsTakeEachDeliveryOnce) {
    for (int i = 0; i < 10; ++i) {
        std::string id = "msg_" + std::to_string(100 + i);
        enqueue(event(id, 1000 + i));
        fan_out(id, {"ep_a", "ep_b"}, 1000);
    }
    constexpr int workers = 4;
    std::vector<std::vector<std::string>> taken(workers);
    concurrently(workers, [&](int w) {
        for (;;) {
            auto batch = claim(1000, 3, 10'000);
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
    EXPECT_EQ(all.size(), 20u);
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a delivery claimed twice";
}

INSTANTIATE_TEST_SUITE_P(Backends, WebhookRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
