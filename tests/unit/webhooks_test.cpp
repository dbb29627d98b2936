// Webhooks: Standard Webhooks signatures, secrets, and event bodies.
#include "webhooks/event.hpp"
#include "webhooks/signature.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace provisiond {
namespace {

TEST(WebhookSignature, MatchesTheStandardWebhooksReferenceVector) {
    // The example of the Standard Webhooks specification (and the svix libraries' tests).
    auto key = webhooks::secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ASSERT_TRUE(key);
    EXPECT_EQ(
        webhooks::sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, SecretsAreWhsecAndBase64OfEnoughBytes) {
    auto secret = webhooks::new_secret();
    EXPECT_TRUE(secret.starts_with("whsec_"));
    EXPECT_EQ(webhooks::secret_key(secret)->size(), 32u);
    for (const char* bad : {"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!",
                            "whsec_c2hvcnQ="}) {
        EXPECT_FALSE(webhooks::secret_key(bad)) << bad;
    }
}

TEST(WebhookEvent, BodyHasTypeTimestampAndDataAndAStableId) {
    auto event = webhooks::make_event("account.created", {{"user", {{"id", "u1"}}}}, 1795000000);
    EXPECT_TRUE(event.id.starts_with("msg_"));
    auto body = boost::json::parse(event.body).as_object();
    EXPECT_EQ(body.at("type").as_string(), "account.created");
    EXPECT_EQ(body.at("timestamp").as_string(), "2026-11-18T11:06:40Z");
    EXPECT_EQ(body.at("data").at("user").at("id").as_string(), "u1");
    auto revoked = webhooks::grant_revoked("c", "u", "", webhooks::revoke_reason::disconnect, 0);
    auto data = boost::json::parse(revoked.body).at("data").as_object();
    EXPECT_EQ(data.at("reason").as_string(), "disconnect");
    EXPECT_FALSE(data.contains("family_id"));
    EXPECT_TRUE(webhooks::is_event_type("grant.revoked"));
    EXPECT_FALSE(webhooks::is_event_type("grant.revoke"));
}

} // namespace
} // namespace provisiond
