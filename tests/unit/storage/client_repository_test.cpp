// oauth::ClientRepository on every backend: registered and metadata-document partners, their
// switches, limits and tombstones.
#include "backend_fixture.hpp"

namespace provisiond::conformance {
namespace {

using oauth::OAuthClient;

class ClientRepositoryTest : public BackendTest {
protected:
    std::optional<OAuthClient> find(const std::string& id) {
        auto found = read([&](Repositories& r) { return r.clients().find(id); });
        EXPECT_OK(found);
        return found ? *found : std::nullopt;
    }
};

OAuthClient full_client(const std::string& id) {
    OAuthClient c;
    c.client_id = id;
    c.name = "Partner “Ünïcode” & Co";
    c.kind = "registered";
    c.redirect_uris = {"https://partner.example/cb", "http://127.0.0.1:8765/callback?x=1&y=\"2\""};
    c.scopes = {"project:read", "project:write", "user:read"};
    c.logo_uri = "https://partner.example/logo.png";
    c.is_active = false;
    c.can_create_accounts = false;
    c.can_provision_resources = false;
    c.rate_limits = {{"account_requests", 5}, {"token_exchanges", -1}};
    c.created_at = 1'800'000'001;
    c.updated_at = 1'800'000'002;
    return c;
}

void expect_same_client(const OAuthClient& got, const OAuthClient& want) {
    EXPECT_EQ(got.client_id, want.client_id);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.redirect_uris, want.redirect_uris);
    EXPECT_EQ(got.scopes, want.scopes);
    EXPECT_EQ(got.logo_uri, want.logo_uri);
    EXPECT_EQ(got.organization_id, want.organization_id);
    EXPECT_EQ(got.is_active, want.is_active);
    EXPECT_EQ(got.can_create_accounts, want.can_create_accounts);
    EXPECT_EQ(got.can_provision_resources, want.can_provision_resources);
    EXPECT_EQ(got.can_issue_deep_links, want.can_issue_deep_links);
    EXPECT_EQ(got.operator_verified, want.operator_verified);
    EXPECT_EQ(got.rate_limits, want.rate_limits);
    EXPECT_EQ(got.created_at, want.created_at);
    EXPECT_EQ(got.updated_at, want.updated_at);
    EXPECT_EQ(got.deleted_at, want.deleted_at);
}

TEST_P(ClientRepositoryTest, InsertedClientRoundTripsEveryField) {
    seed_organization("o-1", "Org");
    OAuthClient c = full_client("https://partner.example/client.json");
    c.kind = "cimd";
    c.organization_id = "o-1";
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(c); }));
    auto found = find(c.client_id);
    ASSERT_TRUE(found);
    expect_same_client(*found, c);
    EXPECT_TRUE(found->verified());
}

TEST_P(ClientRepositoryTest, InsertedClientWithDefaultsRoundTrips) {
    OAuthClient c;
    c.client_id = "plain";
    c.name = "Plain";
    c.created_at = 5;
    c.updated_at = 5;
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(c); }));
    auto found = find("plain");
    ASSERT_TRUE(found);
    expect_same_client(*found, c);
    EXPECT_TRUE(found->redirect_uris.empty());
    EXPECT_TRUE(found->scopes.empty());
    EXPECT_TRUE(found->rate_limits.empty());
    EXPECT_FALSE(found->verified());
}

TEST_P(ClientRepositoryTest, UnknownClientIsNotFound) {
    seed_client("partner");
    EXPECT_EQ(find("Partner"), std::nullopt);
    EXPECT_EQ(find("partner "), std::nullopt);
}

TEST_P(ClientRepositoryTest, ClientIdIsUnique) {
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(full_client("dup")); }));
    OAuthClient again = full_client("dup");
    again.name = "Impostor";
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.clients().insert(again); }));
    EXPECT_EQ(find("dup")->name, full_client("dup").name);
}

TEST_P(ClientRepositoryTest, ListLeavesOutDeletedClientsOldestFirst) {
    seed_client("c-b", 20);
    seed_client("c-a", 20);
    seed_client("c-old", 10);
    seed_client("c-gone", 5);
    ASSERT_OK(write([&](Repositories& r) { return r.clients().mark_deleted("c-gone", 30); }));
    auto all = read([&](Repositories& r) { return r.clients().list(); });
    ASSERT_OK(all);
    std::vector<std::string> ids;
    for (const auto& c : *all) {
        ids.push_back(c.client_id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"c-old", "c-a", "c-b"}));
    EXPECT_EQ(all->front().name, "Client c-old");
}

TEST_P(ClientRepositoryTest, SetActiveSwitchesAndStampsTheClient) {
    seed_client("c-1");
    auto off = write([&](Repositories& r) { return r.clients().set_active("c-1", false, 50); });
    ASSERT_OK(off);
    EXPECT_TRUE(*off);
    EXPECT_FALSE(find("c-1")->is_active);
    EXPECT_EQ(find("c-1")->updated_at, 50);
    auto on = write([&](Repositories& r) { return r.clients().set_active("c-1", true, 60); });
    ASSERT_OK(on);
    EXPECT_TRUE(*on);
    EXPECT_TRUE(find("c-1")->is_active);
    auto unknown = write([&](Repositories& r) { return r.clients().set_active("c-2", true, 60); });
    ASSERT_OK(unknown);
    EXPECT_FALSE(*unknown);
}

TEST_P(ClientRepositoryTest, SetCapabilityTurnsEachSwitch) {
    seed_client("c-1");
    auto set = [&](const std::string& capability, bool on, std::int64_t now) {
        auto done = write([&](Repositories& r) {
            return r.clients().set_capability("c-1", capability, on, now);
        });
        EXPECT_OK(done);
        return done && *done;
    };
    EXPECT_TRUE(set("create_accounts", false, 10));
    EXPECT_TRUE(set("provision_resources", false, 11));
    EXPECT_TRUE(set("deep_links", true, 12));
    EXPECT_TRUE(set("verified", true, 13));
    auto c = find("c-1");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->can_create_accounts);
    EXPECT_FALSE(c->can_provision_resources);
    EXPECT_TRUE(c->can_issue_deep_links);
    EXPECT_TRUE(c->operator_verified);
    EXPECT_TRUE(c->verified());
    EXPECT_EQ(c->updated_at, 13);
    EXPECT_TRUE(c->is_active) << "switches leave the others alone";

    EXPECT_TRUE(set("create_accounts", true, 20));
    EXPECT_TRUE(set("provision_resources", true, 21));
    EXPECT_TRUE(set("deep_links", false, 22));
    EXPECT_TRUE(set("verified", false, 23));
    c = find("c-1");
    EXPECT_TRUE(c->can_create_accounts);
    EXPECT_TRUE(c->can_provision_resources);
    EXPECT_FALSE(c->can_issue_deep_links);
    EXPECT_FALSE(c->operator_verified);

    auto unknown = write(
        [&](Repositories& r) { return r.clients().set_capability("c-2", "deep_links", true, 30); });
    ASSERT_OK(unknown);
    EXPECT_FALSE(*unknown);
    auto bad = write(
        [&](Repositories& r) { return r.clients().set_capability("c-1", "is_active", true, 30); });
    EXPECT_FALSE(bad) << "not a capability";
}

TEST_P(ClientRepositoryTest, SaveDocumentClientInsertsThenUpdatesOnlyWhatTheDocumentDecides) {
    seed_organization("o-1", "Org");
    OAuthClient c = full_client("https://app.example/client.json");
    c.kind = "cimd";
    c.is_active = true;
    c.can_create_accounts = true;
    c.can_provision_resources = true;
    ASSERT_OK(write([&](Repositories& r) { return r.clients().save_document_client(c); }));
    auto inserted = find(c.client_id);
    ASSERT_TRUE(inserted);
    expect_same_client(*inserted, c);

    // The operator's switches and limits, set in between, survive the document's refresh.
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.clients().set_active(c.client_id, false, 100));
        RETURN_IF_ERROR(r.clients().set_capability(c.client_id, "deep_links", true, 100));
        RETURN_IF_ERROR(r.clients().set_rate_limit(c.client_id, "resource_creates", 9, 100));
        return {};
    }));
    OAuthClient refreshed = c;
    refreshed.name = "Renamed";
    refreshed.redirect_uris = {"https://app.example/new-cb"};
    refreshed.scopes = {"user:read"};
    refreshed.logo_uri.reset();
    refreshed.organization_id = "o-1";
    refreshed.is_active = true;
    refreshed.rate_limits = {};
    refreshed.created_at = 1'900'000'000;
    refreshed.updated_at = 1'900'000'001;
    ASSERT_OK(write([&](Repositories& r) { return r.clients().save_document_client(refreshed); }));
    auto updated = find(c.client_id);
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->name, "Renamed");
    EXPECT_EQ(updated->redirect_uris, refreshed.redirect_uris);
    EXPECT_EQ(updated->scopes, refreshed.scopes);
    EXPECT_EQ(updated->logo_uri, std::nullopt);
    EXPECT_EQ(updated->organization_id, "o-1");
    EXPECT_EQ(updated->updated_at, 1'900'000'001);
    EXPECT_EQ(updated->created_at, c.created_at);
    EXPECT_FALSE(updated->is_active);
    EXPECT_TRUE(updated->can_issue_deep_links);
    EXPECT_EQ(updated->rate_limits.at("resource_creates"), 9);
    EXPECT_EQ(updated->rate_limits.at("account_requests"), 5);
}

TEST_P(ClientRepositoryTest, SaveDocumentClientNeverOverwritesARegisteredOrDeletedClient) {
    OAuthClient registered = full_client("https://taken.example/client.json");
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(registered); }));
    OAuthClient document = registered;
    document.kind = "cimd";
    document.name = "From a document";
    ASSERT_OK(write([&](Repositories& r) { return r.clients().save_document_client(document); }));
    auto kept = find(registered.client_id);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->kind, "registered");
    EXPECT_EQ(kept->name, registered.name);

    OAuthClient gone = full_client("https://gone.example/client.json");
    gone.kind = "cimd";
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.clients().save_document_client(gone));
        RETURN_IF_ERROR(r.clients().mark_deleted(gone.client_id, 50));
        return {};
    }));
    OAuthClient back = gone;
    back.name = "Back again";
    ASSERT_OK(write([&](Repositories& r) { return r.clients().save_document_client(back); }));
    auto tombstone = find(gone.client_id);
    ASSERT_TRUE(tombstone);
    EXPECT_EQ(tombstone->name, gone.name);
    EXPECT_EQ(tombstone->deleted_at, 50);
    EXPECT_FALSE(tombstone->is_active);
}

TEST_P(ClientRepositoryTest, SetRateLimitOverridesAndClearsOneEndpoint) {
    seed_client("c-1");
    auto set = [&](const std::string& client, const std::string& endpoint,
                   std::optional<std::int64_t> per_hour, std::int64_t now) {
        auto done = write([&](Repositories& r) {
            return r.clients().set_rate_limit(client, endpoint, per_hour, now);
        });
        EXPECT_OK(done);
        return done && *done;
    };
    EXPECT_TRUE(set("c-1", "account_requests", 10, 100));
    EXPECT_TRUE(set("c-1", "token_exchanges", -1, 101));
    EXPECT_EQ(find("c-1")->rate_limits, (std::map<std::string, std::int64_t>{
                                            {"account_requests", 10}, {"token_exchanges", -1}}));
    EXPECT_EQ(find("c-1")->updated_at, 101);
    EXPECT_TRUE(set("c-1", "account_requests", 20, 102));
    EXPECT_TRUE(set("c-1", "token_exchanges", std::nullopt, 103));
    EXPECT_EQ(find("c-1")->rate_limits,
              (std::map<std::string, std::int64_t>{{"account_requests", 20}}));
    EXPECT_FALSE(set("c-404", "account_requests", 1, 104));
    ASSERT_OK(write([&](Repositories& r) { return r.clients().mark_deleted("c-1", 105); }));
    EXPECT_FALSE(set("c-1", "account_requests", 1, 106)) << "a deleted client is not changed";
}

TEST_P(ClientRepositoryTest, UpdateRegisteredReplacesNameUrisAndScopesOnly) {
    OAuthClient c = full_client("reg");
    c.is_active = true;
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(c); }));
    OAuthClient edit = c;
    edit.name = "Edited";
    edit.redirect_uris = {"https://edited.example/cb"};
    edit.scopes = {"user:read"};
    edit.updated_at = 1'900'000'000;
    edit.is_active = false;
    edit.rate_limits = {};
    auto done = write([&](Repositories& r) { return r.clients().update_registered(edit); });
    ASSERT_OK(done);
    EXPECT_TRUE(*done);
    auto found = find("reg");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->name, "Edited");
    EXPECT_EQ(found->redirect_uris, edit.redirect_uris);
    EXPECT_EQ(found->scopes, edit.scopes);
    EXPECT_EQ(found->updated_at, 1'900'000'000);
    EXPECT_TRUE(found->is_active);
    EXPECT_EQ(found->rate_limits, c.rate_limits);
    EXPECT_EQ(found->created_at, c.created_at);
}

TEST_P(ClientRepositoryTest, UpdateRegisteredRefusesDocumentDeletedAndUnknownClients) {
    OAuthClient doc = full_client("https://doc.example/client.json");
    doc.kind = "cimd";
    ASSERT_OK(write([&](Repositories& r) { return r.clients().insert(doc); }));
    seed_client("deleted");
    ASSERT_OK(write([&](Repositories& r) { return r.clients().mark_deleted("deleted", 9); }));
    for (const std::string id : {"https://doc.example/client.json", "deleted", "unknown"}) {
        OAuthClient edit = full_client(id);
        edit.name = "Edited";
        auto done = write([&](Repositories& r) { return r.clients().update_registered(edit); });
        ASSERT_OK(done);
        EXPECT_FALSE(*done) << id;
    }
    EXPECT_EQ(find("https://doc.example/client.json")->name, doc.name);
    EXPECT_EQ(find("deleted")->name, "Client deleted");
}

TEST_P(ClientRepositoryTest, MarkDeletedLeavesAnInactiveTombstoneOnce) {
    seed_client("c-1");
    auto deleted = write([&](Repositories& r) { return r.clients().mark_deleted("c-1", 77); });
    ASSERT_OK(deleted);
    EXPECT_TRUE(*deleted);
    auto c = find("c-1");
    ASSERT_TRUE(c) << "the row stays, so that the id is never reused";
    EXPECT_EQ(c->deleted_at, 77);
    EXPECT_EQ(c->updated_at, 77);
    EXPECT_FALSE(c->is_active);
    auto again = write([&](Repositories& r) { return r.clients().mark_deleted("c-1", 78); });
    ASSERT_OK(again);
    EXPECT_FALSE(*again);
    EXPECT_EQ(find("c-1")->deleted_at, 77);
    auto unknown = write([&](Repositories& r) { return r.clients().mark_deleted("c-2", 78); });
    ASSERT_OK(unknown);
    EXPECT_FALSE(*unknown);
    // Inactive for good: neither switch nor capability changes it.
    auto on = write([&](Repositories& r) { return r.clients().set_active("c-1", true, 79); });
    ASSERT_OK(on);
    EXPECT_FALSE(*on);
    auto cap = write(
        [&](Repositories& r) { return r.clients().set_capability("c-1", "deep_links", true, 79); });
    ASSERT_OK(cap);
    EXPECT_FALSE(*cap);
    EXPECT_FALSE(find("c-1")->is_active);
    EXPECT_CONFLICT(write([&](Repositories& r) { return r.clients().insert(full_client("c-1")); }));
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
