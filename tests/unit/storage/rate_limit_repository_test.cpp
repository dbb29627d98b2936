// ratelimit::RateLimitRepository on every backend: fixed-window counters.
#include "backend_fixture.hpp"
#include "ratelimit/fixed_window.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

class RateLimitRepositoryTest : public BackendTest {
protected:
    std::int64_t increment(const std::string& bucket, std::int64_t window) {
        auto n = write([&](Repositories& r) { return r.rate_limits().increment(bucket, window); });
        EXPECT_OK(n);
        return n ? *n : -1;
    }
    std::int64_t current(const std::string& bucket, std::int64_t window) {
        auto n = read([&](Repositories& r) { return r.rate_limits().current(bucket, window); });
        EXPECT_OK(n);
        return n ? *n : -1;
    }
    void decrement(const std::string& bucket, std::int64_t window) {
        EXPECT_OK(
            write([&](Repositories& r) { return r.rate_limits().decrement(bucket, window); }));
    }
    std::int64_t rows() { return scalar("SELECT COUNT(*) FROM rate_limit_counters"); }
};

TEST_P(RateLimitRepositoryTest, IncrementCountsWithinOneWindow) {
    EXPECT_EQ(current("account_requests:c", 3600), 0);
    EXPECT_EQ(increment("account_requests:c", 3600), 1);
    EXPECT_EQ(increment("account_requests:c", 3600), 2);
    EXPECT_EQ(increment("account_requests:c", 3600), 3);
    EXPECT_EQ(current("account_requests:c", 3600), 3);
}

TEST_P(RateLimitRepositoryTest, ANewWindowStartsFromOne) {
    EXPECT_EQ(increment("b", 3600), 1);
    EXPECT_EQ(increment("b", 3600), 2);
    EXPECT_EQ(increment("b", 7200), 1);
    EXPECT_EQ(current("b", 3600), 2) << "the old window keeps its count until purged";
    EXPECT_EQ(current("b", 7200), 1);
}

TEST_P(RateLimitRepositoryTest, BucketsAreCountedApart) {
    EXPECT_EQ(increment("account_requests:a", 0), 1);
    EXPECT_EQ(increment("account_requests:b", 0), 1);
    EXPECT_EQ(increment("token_exchanges:a", 0), 1);
    EXPECT_EQ(increment("account_requests:a", 0), 2);
    EXPECT_EQ(current("account_requests:b", 0), 1);
    EXPECT_EQ(current("Account_requests:a", 0), 0);
}

TEST_P(RateLimitRepositoryTest, CountsBeyondThirtyTwoBits) {
    std::int64_t window = 4'102'444'800; // 2100-01-01
    EXPECT_EQ(increment("b", window), 1);
    EXPECT_EQ(current("b", window), 1);
}

TEST_P(RateLimitRepositoryTest, IncrementsInOneTransactionAddUp) {
    auto last = write([&](Repositories& r) -> Result<std::int64_t> {
        for (int i = 0; i < 4; ++i) {
            RETURN_IF_ERROR(r.rate_limits().increment("b", 60));
        }
        return r.rate_limits().increment("b", 60);
    });
    ASSERT_OK(last);
    EXPECT_EQ(*last, 5);
}

TEST_P(RateLimitRepositoryTest, CountInWindowReportsOverLimitAndRetryAfter) {
    auto count = [&](std::int64_t now) {
        auto c = write([&](Repositories& r) {
            return ratelimit::count_in_window(r.rate_limits(), "b", 3600, 2, now);
        });
        EXPECT_OK(c);
        return c ? *c : ratelimit::WindowCount{};
    };
    EXPECT_FALSE(count(7200 + 10).over_limit);
    EXPECT_FALSE(count(7200 + 20).over_limit);
    auto third = count(7200 + 30);
    EXPECT_TRUE(third.over_limit);
    EXPECT_EQ(third.retry_after_seconds, 3600 - 30);
    EXPECT_FALSE(count(10'800).over_limit) << "a new window";
}

TEST_P(RateLimitRepositoryTest, DecrementTakesOneBackAndDropsAnEmptyCounter) {
    increment("b", 60);
    increment("b", 60);
    decrement("b", 60);
    EXPECT_EQ(current("b", 60), 1);
    EXPECT_EQ(rows(), 1);
    decrement("b", 60);
    EXPECT_EQ(current("b", 60), 0);
    EXPECT_EQ(rows(), 0) << "a counter that reaches zero is dropped";
    decrement("b", 60);
    EXPECT_EQ(current("b", 60), 0) << "never below zero";
    EXPECT_EQ(increment("b", 60), 1);
    decrement("nothing", 60);
    EXPECT_EQ(current("nothing", 60), 0);
    EXPECT_EQ(rows(), 1);
}

TEST_P(RateLimitRepositoryTest, PurgeBeforeDropsOnlyEarlierWindows) {
    increment("a", 0);
    increment("a", 3600);
    increment("b", 3600);
    increment("a", 7200);
    increment("b", 10'800);
    ASSERT_OK(write([&](Repositories& r) { return r.rate_limits().purge_before(7200); }));
    EXPECT_EQ(current("a", 0), 0);
    EXPECT_EQ(current("a", 3600), 0);
    EXPECT_EQ(current("b", 3600), 0);
    EXPECT_EQ(current("a", 7200), 1) << "the window starting at the cutoff stays";
    EXPECT_EQ(current("b", 10'800), 1);
    EXPECT_EQ(rows(), 2);
}

TEST_P(RateLimitRepositoryTest, ConcurrentIncrementsAreAllCounted) {
    constexpr int threads = 4;
    constexpr int each = 15;
    std::vector<std::vector<std::int64_t>> seen(threads);
    concurrently(threads, [&](int i) {
        for (int k = 0; k < each; ++k) {
            seen[i].push_back(increment("shared", 3600));
        }
    });
    EXPECT_EQ(current("shared", 3600), threads * each);
    std::vector<std::int64_t> all;
    for (const auto& s : seen) {
        all.insert(all.end(), s.begin(), s.end());
    }
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> expected(threads * each);
    for (int k = 0; k < threads * each; ++k) {
        expected[k] = k + 1;
    }
    EXPECT_EQ(all, expected) << "every caller saw its own count";
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimitRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
