// The HTTP edge without sockets: body parsing, routing, envelopes.
#include "http/body.hpp"
#include "http/error_envelope.hpp"
#include "http/router.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace provisiond;
using namespace provisiond::http;

namespace {
Request with_body(std::string content_type, std::string body) {
    Request r;
    r.method = "POST";
    if (!content_type.empty()) {
        r.headers.emplace_back("content-type", std::move(content_type));
    }
    r.body = std::move(body);
    return r;
}
} // namespace

TEST(Body, JsonWithCharsetParameter) {
    auto b = parse_body(with_body("application/json; charset=UTF-8", R"({"a":"b"})"));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->at("a").as_string(), "b");
}

TEST(Body, ARepeatedKeyIsRefusedInJsonAsInForms) {
    for (const auto* json : {R"({"a":1,"a":2})", R"({"x":{"b":true,"b":false}})",
                             R"({"list":[{"k":1},{"k":2,"k":3}]})", R"({"\u0061":1,"a":2})"}) {
        auto b = parse_body(with_body("application/json", json));
        ASSERT_FALSE(b) << json;
        EXPECT_EQ(b.error().code, ErrorCode::invalid_request);
        EXPECT_NE(b.error().message.find(" appears more than once"), std::string::npos);
    }
    auto json = parse_body(with_body("application/json", R"({"a":1,"a":2})"));
    auto form = parse_body(with_body("application/x-www-form-urlencoded", "a=1&a=2"));
    ASSERT_FALSE(json);
    ASSERT_FALSE(form);
    EXPECT_EQ(json.error().message, "Parameter a appears more than once");
    EXPECT_EQ(json.error().message, form.error().message);
    // The same key in different objects is no repeat.
    EXPECT_TRUE(
        parse_body(with_body("application/json", R"({"id":1,"c":{"id":2},"l":[{"id":3}]})")));
}

TEST(Body, FormWithCharsetParameter) {
    auto b = parse_body(
        with_body("application/x-www-form-urlencoded;charset=UTF-8", "grant_type=x&code=a%2Bb+c"));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->at("code").as_string(), "a+b c");
}

TEST(Body, RejectsWhatIsNotAnObject) {
    for (const char* text : {"[1,2]", "\"s\"", "{\"a\":", "{\"a\":1}x", "nul"}) {
        auto b = parse_body(with_body("application/json", text));
        ASSERT_FALSE(b) << text;
        EXPECT_EQ(b.error().code, ErrorCode::invalid_request);
    }
}

TEST(Body, RejectsInvalidUtf8InJsonAndForm) {
    auto json = parse_body(with_body("application/json", "{\"a\":\"\xff\"}"));
    ASSERT_FALSE(json);
    EXPECT_EQ(json.error().message, "Request body is not valid UTF-8");
    auto form = parse_body(with_body("application/x-www-form-urlencoded", "a=%FF"));
    ASSERT_FALSE(form);
    EXPECT_EQ(form.error().message, "Request body is not valid UTF-8");
}

TEST(Body, RejectsDeepNestingAndDuplicateFormParameters) {
    std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    auto b = parse_body(with_body("application/json", deep));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message, "JSON body is nested too deeply");
    auto dup = parse_body(with_body("application/x-www-form-urlencoded", "code=a&code=b"));
    ASSERT_FALSE(dup);
}

TEST(Body, UnsupportedMediaType) {
    auto b = parse_body(with_body("text/plain", "hello"));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code, ErrorCode::unsupported_media_type);
}

TEST(Body, TypedFields) {
    auto b = boost::json::parse(R"({"s":"x","n":1,"l":["a","b"],"bad":[1]})").as_object();
    EXPECT_EQ(*string_field(b, "s"), std::optional<std::string>("x"));
    EXPECT_EQ(*string_field(b, "missing"), std::nullopt);
    EXPECT_EQ(string_field(b, "n").error().message, "n must be a string");
    EXPECT_EQ(string_list_field(b, "l")->value(), (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(string_list_field(b, "bad"));
}

TEST(Router, SpecificRoutesBeforePlaceholders) {
    Router router;
    router.add("POST", "/r/{id}/rotate", Envelope::status,
               [](Request& r) { return json_response(200, "rotate:" + r.path_params.at(0)); });
    router.add("GET", "/r/{id}", Envelope::status,
               [](Request& r) { return json_response(200, "get:" + r.path_params.at(0)); });
    Request get;
    get.method = "GET";
    get.path = "/r/42/";
    EXPECT_EQ(router.dispatch(get).body, "get:42");
    Request rotate;
    rotate.method = "POST";
    rotate.path = "/r/42/rotate";
    EXPECT_EQ(router.dispatch(rotate).body, "rotate:42");
    Request wrong;
    wrong.method = "DELETE";
    wrong.path = "/r/42";
    auto r = router.dispatch(wrong);
    EXPECT_EQ(r.status, 405U);
    Request missing;
    missing.method = "GET";
    missing.path = "/nope";
    EXPECT_EQ(router.dispatch(missing).status, 404U);
}

TEST(Router, HandlerExceptionBecomesA500InTheRouteEnvelope) {
    Router router;
    router.add("GET", "/boom", Envelope::status,
               [](Request&) -> Response { throw std::runtime_error("secret detail"); });
    Request r;
    r.method = "GET";
    r.path = "/boom";
    auto res = router.dispatch(r);
    EXPECT_EQ(res.status, 500U);
    EXPECT_EQ(
        res.body,
        R"({"status":"error","id":"","error":{"code":"server_error","message":"Internal server error"}})");
}

TEST(Envelope, Shapes) {
    auto typed = error_response(
        Envelope::typed, make_error(ErrorCode::invalid_request, "email is required"), "req_1");
    EXPECT_EQ(typed.status, 400U);
    EXPECT_EQ(
        typed.body,
        R"({"id":"req_1","type":"error","error":{"code":"invalid_request","message":"email is required"}})");
    auto oauth = error_response(Envelope::oauth, make_error(ErrorCode::invalid_grant, "nope"));
    EXPECT_EQ(oauth.body, R"({"error":"invalid_grant","error_description":"nope"})");
    auto pkce = error_response(
        Envelope::oauth, make_error(ErrorCode::unauthorized, "code_verifier is required for PKCE"));
    EXPECT_EQ(pkce.status, 401U);
    EXPECT_EQ(
        pkce.body,
        R"({"error":"invalid_request","error_description":"code_verifier is required for PKCE"})");
    Error limited = make_error(ErrorCode::rate_limited, "slow down");
    limited.retry_after_seconds = 12;
    auto status = error_response(Envelope::status, limited, "7");
    EXPECT_EQ(status.status, 429U);
    ASSERT_EQ(status.headers.size(), 1U);
    EXPECT_EQ(status.headers[0], (std::pair<std::string, std::string>{"Retry-After", "12"}));
}
