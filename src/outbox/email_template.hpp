#pragma once
// Every email provisiond sends is one EmailContent, written once, rendered into a plain-text and
// an HTML part by the two templates in outbox/templates/ (multipart/alternative), both carrying
// the operator's branding. Text in the HTML part is escaped like the pages.

#include "config/config.hpp"
#include "outbox/email.hpp"

#include <string>
#include <vector>

namespace provisiond::outbox {

struct EmailLink {
    std::string label;
    std::string url;
};

/// What a message says, without markup: paragraphs, one call to action, and further links.
struct EmailContent {
    std::string kind; ///< "welcome", "password_link", "password_reset"
    std::string subject;
    std::string greeting;
    std::vector<std::string> before; ///< paragraphs before the call to action
    std::string action_label;
    std::string action_url;
    std::string action_note; ///< small print under the action (e.g. when the link expires)
    std::vector<std::string> after;
    std::vector<EmailLink> links;
};

/// The two bodies of a message.
struct RenderedBodies {
    std::string text;
    std::string html;
};

RenderedBodies render_bodies(const EmailContent& content, const Config& config);

/// A queued message to `recipient` (due now), with both bodies rendered.
Email compose_email(const EmailContent& content, const Config& config, std::string recipient,
                    std::optional<std::string> user_id, std::int64_t now);

/// Word-wraps one paragraph at `width` columns (counted in code points; a longer word, such as a
/// URL, keeps its own line).
std::string wrap_paragraph(std::string_view paragraph, std::size_t width);

} // namespace provisiond::outbox
