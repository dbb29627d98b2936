// cimd::DocumentRepository on every backend: the fetch state (and fetch lease) of metadata
// documents, partner logos, and the operator's blocklist.
#include "backend_fixture.hpp"

#include <algorithm>

namespace provisiond::conformance {
namespace {

using cimd::BlockEntry;
using cimd::ClientLogo;
using cimd::DocumentRecord;

constexpr const char* url = "https://app.example/oauth/client.json";

class DocumentRepositoryTest : public BackendTest {
protected:
    std::optional<DocumentRecord> find(const std::string& client_id) {
        auto found = read([&](Repositories& r) { return r.documents().find(client_id); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
    bool start(const std::string& client_id, std::int64_t now, std::int64_t lease_until) {
        auto won = write([&](Repositories& r) {
            return r.documents().start_registration(client_id, now, lease_until);
        });
        EXPECT_OK(won);
        return won && *won;
    }
    bool take(const std::string& client_id, std::int64_t now, std::int64_t lease_until,
              bool stale_only) {
        auto won = write([&](Repositories& r) {
            return r.documents().take_lease(client_id, now, lease_until, stale_only);
        });
        EXPECT_OK(won);
        return won && *won;
    }
    void save(const DocumentRecord& d) {
        EXPECT_OK(write([&](Repositories& r) { return r.documents().save(d); }));
    }
    std::optional<std::string> blocked_by(const std::string& u, const std::string& host) {
        auto found = read([&](Repositories& r) { return r.documents().find_block(u, host); });
        EXPECT_OK(found);
        if (!found || !*found) {
            return std::nullopt;
        }
        return (*found)->entry;
    }
};

DocumentRecord registered(std::int64_t now) {
    DocumentRecord d;
    d.client_id = url;
    d.state = "registered";
    d.document = R"({"client_id":"https://app.example/oauth/client.json","client_name":"Äpp",)"
                 R"("redirect_uris":["https://app.example/cb"]})";
    d.fetched_at = now;
    d.fresh_until = now + 3600;
    d.last_attempt_at = now;
    d.last_error = "";
    d.lease_until = 0;
    d.created_at = now - 10;
    d.updated_at = now;
    return d;
}

TEST_P(DocumentRepositoryTest, StartRegistrationInsertsARegisteringRowHoldingTheLease) {
    EXPECT_EQ(find(url), std::nullopt);
    EXPECT_TRUE(start(url, 1000, 1030));
    auto d = find(url);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->client_id, url);
    EXPECT_EQ(d->state, "registering");
    EXPECT_EQ(d->document, std::nullopt);
    EXPECT_EQ(d->fetched_at, std::nullopt);
    EXPECT_EQ(d->fresh_until, 0);
    EXPECT_EQ(d->last_attempt_at, std::nullopt);
    EXPECT_EQ(d->last_error, std::nullopt);
    EXPECT_EQ(d->lease_until, 1030);
    EXPECT_EQ(d->created_at, 1000);
    EXPECT_EQ(d->updated_at, 1000);
    EXPECT_FALSE(start(url, 1001, 1031)) << "a row exists: another process registers it";
    EXPECT_EQ(find(url)->lease_until, 1030);
}

TEST_P(DocumentRepositoryTest, SavedRecordRoundTripsEveryField) {
    DocumentRecord d = registered(2000);
    save(d);
    auto got = find(url);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->client_id, d.client_id);
    EXPECT_EQ(got->state, "registered");
    EXPECT_EQ(got->document, d.document);
    EXPECT_EQ(got->fetched_at, 2000);
    EXPECT_EQ(got->fresh_until, 5600);
    EXPECT_EQ(got->last_attempt_at, 2000);
    EXPECT_EQ(got->last_error, "");
    EXPECT_EQ(got->lease_until, 0);
    EXPECT_EQ(got->created_at, 1990);
    EXPECT_EQ(got->updated_at, 2000);
}

TEST_P(DocumentRepositoryTest, SaveReplacesTheRowButKeepsItsCreationTime) {
    ASSERT_TRUE(start(url, 1000, 1030));
    DocumentRecord failed;
    failed.client_id = url;
    failed.state = "failed";
    failed.fresh_until = 1300;
    failed.last_attempt_at = 1010;
    failed.last_error = "HTTP 404";
    failed.lease_until = 0;
    failed.created_at = 1010;
    failed.updated_at = 1010;
    save(failed);
    auto got = find(url);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->state, "failed");
    EXPECT_EQ(got->document, std::nullopt);
    EXPECT_EQ(got->last_error, "HTTP 404");
    EXPECT_EQ(got->lease_until, 0);
    EXPECT_EQ(got->fresh_until, 1300);
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(got->updated_at, 1010);

    DocumentRecord good = registered(1400);
    save(good);
    got = find(url);
    EXPECT_EQ(got->state, "registered");
    EXPECT_EQ(got->document, good.document);
    EXPECT_EQ(got->last_error, "");
    EXPECT_EQ(got->created_at, 1000);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM cimd_documents"), 1);
}

TEST_P(DocumentRepositoryTest, LeaseIsTakenOnlyWhenFree) {
    ASSERT_TRUE(start(url, 1000, 1030));
    EXPECT_FALSE(take(url, 1010, 1040, false)) << "held until 1030";
    EXPECT_FALSE(take(url, 1029, 1059, false));
    EXPECT_TRUE(take(url, 1030, 1060, false)) << "free once lease_until is reached";
    EXPECT_EQ(find(url)->lease_until, 1060);
    EXPECT_FALSE(take(url, 1031, 1061, false)) << "one caller of many wins";
    EXPECT_FALSE(take("https://unknown.example/c.json", 1000, 1030, false));
}

TEST_P(DocumentRepositoryTest, StaleOnlyLeaseWaitsForTheDocumentToGoStale) {
    save(registered(2000)); // fresh until 5600, lease free
    EXPECT_FALSE(take(url, 3000, 3030, true)) << "still fresh";
    EXPECT_EQ(find(url)->lease_until, 0);
    EXPECT_TRUE(take(url, 3000, 3030, false)) << "a forced refresh ignores freshness";
    EXPECT_FALSE(take(url, 5599, 5629, true)) << "fresh until 5600";
    EXPECT_TRUE(take(url, 5600, 5630, true)) << "stale at fresh_until";
    EXPECT_FALSE(take(url, 5601, 5631, true)) << "the lease is held now";
}

TEST_P(DocumentRepositoryTest, RemovedRecordIsGone) {
    save(registered(2000));
    ASSERT_OK(write([&](Repositories& r) { return r.documents().remove(url); }));
    EXPECT_EQ(find(url), std::nullopt);
    EXPECT_OK(write([&](Repositories& r) { return r.documents().remove(url); }));
    EXPECT_TRUE(start(url, 3000, 3030)) << "registration can begin again";
}

TEST_P(DocumentRepositoryTest, LogoIsSavedReplacedAndRemoved) {
    auto find_logo = [&](const std::string& id) {
        auto found = read([&](Repositories& r) { return r.documents().find_logo(id); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    };
    EXPECT_EQ(find_logo(url), std::nullopt);
    ClientLogo logo{url, "https://app.example/logo.png", "image/png",
                    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"
                    "M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                    1000};
    ASSERT_OK(write([&](Repositories& r) { return r.documents().save_logo(logo); }));
    auto got = find_logo(url);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->client_id, url);
    EXPECT_EQ(got->source_uri, logo.source_uri);
    EXPECT_EQ(got->content_type, "image/png");
    EXPECT_EQ(got->data_base64, logo.data_base64);
    EXPECT_EQ(got->fetched_at, 1000);

    ClientLogo newer{url, "https://app.example/logo.webp", "image/webp", "UklGRg==", 2000};
    ASSERT_OK(write([&](Repositories& r) { return r.documents().save_logo(newer); }));
    got = find_logo(url);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->source_uri, newer.source_uri);
    EXPECT_EQ(got->content_type, "image/webp");
    EXPECT_EQ(got->data_base64, "UklGRg==");
    EXPECT_EQ(got->fetched_at, 2000);

    ASSERT_OK(write([&](Repositories& r) { return r.documents().remove_logo(url); }));
    EXPECT_EQ(find_logo(url), std::nullopt);
    EXPECT_OK(write([&](Repositories& r) { return r.documents().remove_logo(url); }));
}

TEST_P(DocumentRepositoryTest, LargeLogoRoundTrips) {
    std::string data(512 * 1024, 'A');
    for (std::size_t i = 0; i < data.size(); i += 7) {
        data[i] = "+/=xyz0"[i % 7];
    }
    ClientLogo logo{url, "https://app.example/big.png", "image/png", data, 1};
    ASSERT_OK(write([&](Repositories& r) { return r.documents().save_logo(logo); }));
    auto got = read([&](Repositories& r) { return r.documents().find_logo(url); });
    ASSERT_OK(got);
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->data_base64, data);
}

TEST_P(DocumentRepositoryTest, BlocklistEntriesAreListedByEntryAndUpdatedInPlace) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& d = r.documents();
        RETURN_IF_ERROR(d.add_block({"evil.example", "domain", "phishing", 100}));
        RETURN_IF_ERROR(d.add_block({"https://a.example/c.json", "url", "", 200}));
        return d.add_block({"bad.example", "domain", "spam", 300});
    }));
    ASSERT_OK(write([&](Repositories& r) {
        return r.documents().add_block({"evil.example", "domain", "still phishing", 999});
    }));
    auto all = read([&](Repositories& r) { return r.documents().list_blocks(); });
    ASSERT_OK(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].entry, "bad.example");
    EXPECT_EQ((*all)[0].kind, "domain");
    EXPECT_EQ((*all)[0].reason, "spam");
    EXPECT_EQ((*all)[0].created_at, 300);
    EXPECT_EQ((*all)[1].entry, "evil.example");
    EXPECT_EQ((*all)[1].reason, "still phishing");
    EXPECT_EQ((*all)[1].created_at, 100) << "re-adding keeps when it was first blocked";
    EXPECT_EQ((*all)[2].entry, "https://a.example/c.json");
    EXPECT_EQ((*all)[2].kind, "url");
    EXPECT_EQ((*all)[2].reason, "");
}

TEST_P(DocumentRepositoryTest, RemoveBlockSaysWhetherThereWasOne) {
    ASSERT_OK(write([&](Repositories& r) {
        return r.documents().add_block({"x.example", "domain", "", 1});
    }));
    auto removed = write([&](Repositories& r) { return r.documents().remove_block("x.example"); });
    ASSERT_OK(removed);
    EXPECT_TRUE(*removed);
    removed = write([&](Repositories& r) { return r.documents().remove_block("x.example"); });
    ASSERT_OK(removed);
    EXPECT_FALSE(*removed);
    auto all = read([&](Repositories& r) { return r.documents().list_blocks(); });
    ASSERT_OK(all);
    EXPECT_TRUE(all->empty());
}

TEST_P(DocumentRepositoryTest, FindBlockMatchesTheUrlTheHostOrAParentDomainLongestFirst) {
    EXPECT_EQ(blocked_by("https://a.b.example.com/c.json", "a.b.example.com"), std::nullopt);
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        auto& d = r.documents();
        RETURN_IF_ERROR(d.add_block({"example.com", "domain", "", 1}));
        RETURN_IF_ERROR(d.add_block({"b.example.com", "domain", "", 1}));
        return d.add_block({"https://x.example.org/client.json", "url", "", 1});
    }));
    EXPECT_EQ(blocked_by("https://a.b.example.com/c.json", "a.b.example.com"), "b.example.com");
    EXPECT_EQ(blocked_by("https://c.example.com/c.json", "c.example.com"), "example.com");
    EXPECT_EQ(blocked_by("https://example.com/c.json", "example.com"), "example.com");
    EXPECT_EQ(blocked_by("https://x.example.org/client.json", "x.example.org"),
              "https://x.example.org/client.json");
    EXPECT_EQ(blocked_by("https://x.example.org/other.json", "x.example.org"), std::nullopt);
    EXPECT_EQ(blocked_by("https://notexample.com/c.json", "notexample.com"), std::nullopt);
    EXPECT_EQ(blocked_by("https://example.community/c.json", "example.community"), std::nullopt);
    auto full = read([&](Repositories& r) {
        return r.documents().find_block("https://a.b.example.com/c.json", "a.b.example.com");
    });
    ASSERT_OK(full);
    ASSERT_TRUE(full->has_value());
    EXPECT_EQ((*full)->kind, "domain");
    EXPECT_EQ((*full)->created_at, 1);
}

TEST_P(DocumentRepositoryTest, ConcurrentRegistrationsAndLeasesHaveOneWinner) {
    constexpr int n = 6;
    std::vector<int> started(n, 0);
    concurrently(n, [&](int i) { started[i] = start(url, 1000, 1030); });
    EXPECT_EQ(std::count(started.begin(), started.end(), 1), 1);
    std::vector<int> leased(n, 0);
    concurrently(n, [&](int i) { leased[i] = take(url, 1030, 1060 + i, false); });
    EXPECT_EQ(std::count(leased.begin(), leased.end(), 1), 1);
    auto winner = std::find(leased.begin(), leased.end(), 1) - leased.begin();
    EXPECT_EQ(find(url)->lease_until, 1060 + winner);
}

INSTANTIATE_TEST_SUITE_P(Backends, DocumentRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
