// Emails: one content rendered into a text and an HTML part (escaped like the pages, carrying
// the branding), the multipart/alternative message, and quoted-printable.
#include "outbox/email_template.hpp"
#include "outbox/message_format.hpp"
#include "outbox/welcome_email.hpp"

#include <gtest/gtest.h>

namespace provisiond {
namespace {

Config branded() {
    Config c;
    c.public_url = "https://id.acme.test";
    c.branding.product_name = "Acme Cloud";
    c.branding.support_email = "help@acme.test";
    c.branding.accent = "#7a1fa2";
    c.branding.logo_file = "/etc/acme/logo.png";
    return c;
}

outbox::EmailContent sample() {
    outbox::EmailContent content;
    content.kind = "welcome";
    content.subject = "Evil <b> & Co created your account";
    content.greeting = "Hi Ada,";
    content.before = {"Evil <script>alert(1)</script> & Co created an account for you."};
    content.action_label = "Set your password";
    content.action_url = "https://id.acme.test/account/set-password?token={{set_password_token}}";
    content.action_note = "This link works once.";
    content.links = {{"Your dashboard", "https://app.acme.test/?a=1&b=2"}};
    return content;
}

TEST(EmailTemplate, TextPartIsVerbatimAndHtmlPartIsEscaped) {
    auto bodies = outbox::render_bodies(sample(), branded());
    EXPECT_NE(bodies.text.find("Evil <script>alert(1)</script> & Co"), std::string::npos)
        << bodies.text;
    EXPECT_EQ(bodies.html.find("<script>"), std::string::npos) << bodies.html;
    EXPECT_NE(bodies.html.find("Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
              std::string::npos);
    EXPECT_NE(bodies.html.find("https://app.acme.test/?a=1&amp;b=2"), std::string::npos);
}

TEST(EmailTemplate, BothPartsCarryTheBrandingAndTheTokenPlaceholder) {
    auto bodies = outbox::render_bodies(sample(), branded());
    for (const std::string* body : {&bodies.text, &bodies.html}) {
        EXPECT_NE(body->find("Acme Cloud"), std::string::npos) << *body;
        EXPECT_NE(body->find("help@acme.test"), std::string::npos) << *body;
        // The sender mints the token at delivery: the placeholder must survive rendering.
        EXPECT_NE(body->find("token={{set_password_token}}"), std::string::npos) << *body;
    }
    EXPECT_NE(bodies.html.find("https://id.acme.test/static/brand-logo"), std::string::npos);
    EXPECT_NE(bodies.html.find("background:#7a1fa2"), std::string::npos);
    EXPECT_NE(bodies.text.find("-- \nAcme Cloud\n"), std::string::npos) << bodies.text;
}

TEST(EmailTemplate, WithoutBrandingNoLogoAndNoSupportLine) {
    Config plain;
    plain.public_url = "http://127.0.0.1:8000";
    auto bodies = outbox::render_bodies(sample(), plain);
    EXPECT_EQ(bodies.html.find("brand-logo"), std::string::npos);
    EXPECT_EQ(bodies.text.find("Questions?"), std::string::npos);
    EXPECT_NE(bodies.text.find("provisiond"), std::string::npos);
}

TEST(EmailTemplate, WrapsParagraphsAt72ColumnsButNeverSplitsAWord) {
    std::string url = "https://example.com/" + std::string(90, 'x');
    std::string wrapped = outbox::wrap_paragraph("one two three " + url + " four", 20);
    EXPECT_EQ(wrapped, "one two three\n" + url + "\nfour");
    EXPECT_EQ(outbox::wrap_paragraph("héllo wörld", 11), "héllo wörld"); // code points, not bytes
}

TEST(MessageFormat, MultipartAlternativeWithTextFirstAndQuotedPrintableHtml) {
    auto email =
        outbox::compose_email(sample(), branded(), "ada@example.com", "user-1", 1795000000);
    std::string raw = outbox::format_message("Acme <no-reply@acme.test>", email);
    auto boundary = "=_provisiond_" + email.id;
    EXPECT_NE(raw.find("Content-Type: multipart/alternative; boundary=\"" + boundary + "\""),
              std::string::npos);
    auto text = raw.find("Content-Type: text/plain; charset=utf-8");
    auto html = raw.find("Content-Type: text/html; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable");
    ASSERT_NE(text, std::string::npos);
    ASSERT_NE(html, std::string::npos);
    EXPECT_LT(text, html);
    EXPECT_TRUE(raw.ends_with("--" + boundary + "--\r\n"));
    for (std::size_t start = 0, end; (end = raw.find("\r\n", start)) != std::string::npos;
         start = end + 2) {
        EXPECT_LE(end - start, 998u) << "RFC 5322 line limit";
    }
}

TEST(QuotedPrintable, EncodesEqualsNonAsciiAndTrailingSpaceAndSoftBreaksLongLines) {
    EXPECT_EQ(outbox::quoted_printable("a=b"), "a=3Db\r\n");
    EXPECT_EQ(outbox::quoted_printable("é"), "=C3=A9\r\n");
    EXPECT_EQ(outbox::quoted_printable("end \nnext"), "end=20\r\nnext\r\n");
    std::string encoded = outbox::quoted_printable(std::string(200, 'a'));
    for (std::size_t start = 0, end; (end = encoded.find("\r\n", start)) != std::string::npos;
         start = end + 2) {
        EXPECT_LE(end - start, 76u);
    }
    std::string joined;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded.compare(i, 3, "=\r\n") == 0) {
            i += 2;
        } else if (encoded[i] != '\r' && encoded[i] != '\n') {
            joined.push_back(encoded[i]);
        }
    }
    EXPECT_EQ(joined, std::string(200, 'a'));
}

TEST(AccountEmails, ResetAndNewLinkSayDifferentThingsWithTheSameLink) {
    outbox::PasswordLinkInput input;
    input.user_id = "u";
    input.recipient = "ada@example.com";
    input.set_password_url = "https://id.acme.test/account/set-password?token=" +
                             std::string(outbox::set_password_token_placeholder);
    input.login_url = "https://id.acme.test/login";
    input.reason = outbox::PasswordLinkReason::reset;
    auto reset = outbox::compose_password_link_email(input, branded(), 0);
    EXPECT_EQ(reset.kind, "password_reset");
    EXPECT_EQ(reset.subject, "Reset your Acme Cloud password");
    input.reason = outbox::PasswordLinkReason::new_link;
    auto link = outbox::compose_password_link_email(input, branded(), 0);
    EXPECT_EQ(link.kind, "password_link");
    EXPECT_NE(link.body_html.find(outbox::set_password_token_placeholder), std::string::npos);
}

} // namespace
} // namespace provisiond
