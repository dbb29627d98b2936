// audit::AuditRepository on every backend: recording, filtered listing, and the log tailer's
// unlogged/mark_logged.
#include "backend_fixture.hpp"

namespace provisiond::conformance {
namespace {

using audit::AuditEvent;
using audit::AuditFilter;

class AuditRepositoryTest : public BackendTest {
protected:
    AuditEvent event(const std::string& id, std::int64_t created_at, const std::string& user,
                     const std::string& client) {
        AuditEvent e;
        e.id = id;
        e.created_at = created_at;
        e.kind = "login.succeeded";
        e.subject = {"user", user, client, "203.0.113.7"};
        e.detail = R"({"method":"password","note":"ünïcode"})";
        return e;
    }
    void record(const AuditEvent& e) {
        EXPECT_OK(write([&](Repositories& r) { return r.audit().record(e); }));
    }
    std::vector<std::string> list(const AuditFilter& filter) {
        auto events = read([&](Repositories& r) { return r.audit().list(filter); });
        EXPECT_OK(events);
        std::vector<std::string> out;
        if (events) {
            for (const auto& e : *events) {
                out.push_back(e.id);
            }
        }
        return out;
    }
    std::vector<std::string> unlogged(std::int64_t limit = 100) {
        auto events = read([&](Repositories& r) { return r.audit().unlogged(limit); });
        EXPECT_OK(events);
        std::vector<std::string> out;
        if (events) {
            for (const auto& e : *events) {
                out.push_back(e.id);
            }
        }
        return out;
    }
    using Ids = std::vector<std::string>;
};

TEST_P(AuditRepositoryTest, EventRoundTripsEveryField) {
    AuditEvent e = event("ev-1", 1000, "u-1", "client-1");
    record(e);
    auto events = read([&](Repositories& r) { return r.audit().list({}); });
    ASSERT_OK(events);
    ASSERT_EQ(events->size(), 1u);
    const AuditEvent& got = events->front();
    EXPECT_EQ(got.id, "ev-1");
    EXPECT_EQ(got.created_at, 1000);
    EXPECT_EQ(got.kind, "login.succeeded");
    EXPECT_EQ(got.subject.actor, "user");
    EXPECT_EQ(got.subject.user_id, "u-1");
    EXPECT_EQ(got.subject.client_id, "client-1");
    EXPECT_EQ(got.subject.remote, "203.0.113.7");
    EXPECT_EQ(got.detail, e.detail);
}

TEST_P(AuditRepositoryTest, EmptySubjectMembersAreStoredAsNullAndReadBackEmpty) {
    AuditEvent e = event("ev-1", 1000, "", "");
    e.subject = {"system", "", "", ""};
    e.detail = "{}";
    record(e);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM audit_events WHERE user_id IS NULL AND client_id IS "
                     "NULL AND remote IS NULL"),
              1);
    auto events = read([&](Repositories& r) { return r.audit().unlogged(10); });
    ASSERT_OK(events);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ(events->front().subject.actor, "system");
    EXPECT_EQ(events->front().subject.user_id, "");
    EXPECT_EQ(events->front().subject.client_id, "");
    EXPECT_EQ(events->front().subject.remote, "");
    EXPECT_EQ(events->front().detail, "{}");
}

TEST_P(AuditRepositoryTest, EventIdIsUnique) {
    record(event("ev-1", 1000, "u-1", "c-1"));
    EXPECT_CONFLICT(
        write([&](Repositories& r) { return r.audit().record(event("ev-1", 2000, "u", "c")); }));
}

TEST_P(AuditRepositoryTest, ListIsNewestFirstAndFiltersBySinceClientAndUser) {
    record(event("ev-a", 1000, "u-1", "c-1"));
    record(event("ev-b", 2000, "u-2", "c-1"));
    record(event("ev-c", 2000, "u-1", "c-2"));
    record(event("ev-d", 3000, "u-1", ""));
    record(event("ev-e", 4000, "", "c-1"));
    EXPECT_EQ(list({}), (Ids{"ev-e", "ev-d", "ev-b", "ev-c", "ev-a"})) << "newest, then by id";
    EXPECT_EQ(list({2000, "", "", 1000}), (Ids{"ev-e", "ev-d", "ev-b", "ev-c"}))
        << "since is inclusive";
    EXPECT_EQ(list({2001, "", "", 1000}), (Ids{"ev-e", "ev-d"}));
    EXPECT_EQ(list({0, "c-1", "", 1000}), (Ids{"ev-e", "ev-b", "ev-a"}));
    EXPECT_EQ(list({0, "", "u-1", 1000}), (Ids{"ev-d", "ev-c", "ev-a"}));
    EXPECT_EQ(list({0, "c-1", "u-1", 1000}), (Ids{"ev-a"}));
    EXPECT_EQ(list({1500, "c-1", "u-2", 1000}), (Ids{"ev-b"}));
    EXPECT_EQ(list({0, "c-404", "", 1000}), (Ids{}));
    EXPECT_EQ(list({0, "", "", 2}), (Ids{"ev-e", "ev-d"}));
    EXPECT_EQ(list({5000, "", "", 1000}), (Ids{}));
}

TEST_P(AuditRepositoryTest, UnloggedEventsOldestFirstUntilMarkedLogged) {
    record(event("ev-c", 3000, "u", "c"));
    record(event("ev-b", 2000, "u", "c"));
    record(event("ev-a2", 1000, "u", "c"));
    record(event("ev-a1", 1000, "u", "c"));
    EXPECT_EQ(unlogged(), (Ids{"ev-a1", "ev-a2", "ev-b", "ev-c"}));
    EXPECT_EQ(unlogged(2), (Ids{"ev-a1", "ev-a2"}));
    ASSERT_OK(write([&](Repositories& r) {
        return r.audit().mark_logged({"ev-a1", "ev-b"}, 5000);
    }));
    EXPECT_EQ(unlogged(), (Ids{"ev-a2", "ev-c"}));
    EXPECT_EQ(list({}).size(), 4u) << "logged events are still listed";
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM audit_events WHERE logged_at = 5000"), 2);
    ASSERT_OK(write([&](Repositories& r) { return r.audit().mark_logged({}, 6000); }));
    ASSERT_OK(write([&](Repositories& r) { return r.audit().mark_logged({"ev-404"}, 6000); }));
    ASSERT_OK(write([&](Repositories& r) {
        return r.audit().mark_logged({"ev-a2", "ev-c"}, 6000);
    }));
    EXPECT_EQ(unlogged(), Ids{});
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditRepositoryTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
