// Branding settings: the contrast rule for the accent colour, and what finalize() refuses.
#include "config/config.hpp"
#include "core/color.hpp"
#include "web/notices.hpp"

#include <gtest/gtest.h>

namespace provisiond {
namespace {

TEST(Color, ParsesOnlyHashAndSixHexDigits) {
    EXPECT_EQ(parse_hex_color("#1f5eFF"), (std::array<int, 3>{0x1f, 0x5e, 0xff}));
    for (const char* bad : {"", "red", "#fff", "1f5eff", "#1f5eff0", "#gg0000"}) {
        EXPECT_FALSE(parse_hex_color(bad)) << bad;
    }
}

TEST(Color, ContrastFollowsWcag2) {
    std::array<int, 3> black{0, 0, 0};
    std::array<int, 3> white{255, 255, 255};
    EXPECT_NEAR(contrast_ratio(black, white), 21.0, 1e-9);
    EXPECT_NEAR(contrast_ratio(*parse_hex_color("#767676"), white), 4.54, 0.01);
    EXPECT_EQ(readable_ink(*parse_hex_color("#1f5eff")), "#ffffff");
    // Just above 3:1 against white: white text would fail 4.5:1, black passes.
    EXPECT_EQ(readable_ink(*parse_hex_color("#d0021b")), "#ffffff");
    EXPECT_EQ(readable_ink(*parse_hex_color("#e07000")), "#000000");
}

std::string finalize_with(void (*change)(Branding&)) {
    Config c;
    change(c.branding);
    return c.finalize();
}

TEST(BrandingSettings, RefusesWhatPagesCouldNotShowWell) {
    EXPECT_EQ(finalize_with([](Branding&) {}), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.accent = "#ffcc00"; }).find("3:1"),
              std::string::npos);
    EXPECT_NE(finalize_with([](Branding& b) { b.accent = "blue"; }).find("#rrggbb"),
              std::string::npos);
    EXPECT_NE(finalize_with([](Branding& b) { b.product_name = ""; }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.product_name = "Acme\nCloud"; }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.product_name = std::string(61, 'a'); }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.support_email = "help@acme.test\r\nBcc: x"; }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.support_email = "Help <help@acme.test>"; }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.dashboard_url = "javascript:alert(1)"; }), "");
    EXPECT_NE(finalize_with([](Branding& b) { b.logo_file = "logo.gif"; }), "");
    EXPECT_EQ(finalize_with([](Branding& b) {
                  b.product_name = "Acme Cloud";
                  b.support_email = "help@acme.test";
                  b.dashboard_url = "https://app.acme.test/home/";
                  b.logo_file = "logo.svg";
              }),
              "");
}

TEST(BrandingSettings, DashboardLinkFallsBackToTheRegionsOwnDashboard) {
    Config c;
    c.eu_host = "https://eu.id.test";
    ASSERT_EQ(c.finalize(), "");
    EXPECT_EQ(c.dashboard_url_for_region("EU"), "https://eu.id.test/dashboard");
    c.branding.dashboard_url = "https://app.acme.test/home";
    EXPECT_EQ(c.dashboard_url_for_region("EU"), "https://app.acme.test/home");
}

TEST(Notices, OnlyKnownNamesSayAnything) {
    http::Request r;
    r.query = "notice=key_revoked";
    EXPECT_NE(web::notice_for(r).find("revoked"), std::string::npos);
    r.query = "notice=%3Cscript%3E";
    EXPECT_EQ(web::notice_for(r), "");
    r.query = "";
    EXPECT_EQ(web::notice_for(r), "");
}

} // namespace
} // namespace provisiond
