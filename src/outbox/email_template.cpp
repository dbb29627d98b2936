#include "outbox/email_template.hpp"

#include "core/color.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "outbox/templates.hpp"

#include <kainjow/mustache.hpp>

namespace provisiond::outbox {
namespace {

using Data = kainjow::mustache::data;

constexpr std::size_t text_width = 72;

std::string template_text(const std::string& name) {
    const auto& all = embedded_assets();
    auto it = all.find(name);
    return it == all.end() ? std::string() : std::string(it->second);
}

Data paragraph_list(const std::vector<std::string>& paragraphs, bool wrap) {
    Data list{Data::type::list};
    for (const auto& p : paragraphs) {
        list.push_back(Data(wrap ? wrap_paragraph(p, text_width) : p));
    }
    return list;
}

/// The same data for both templates; `text` wraps paragraphs for the plain-text part.
Data template_data(const EmailContent& c, const Config& config, bool text) {
    const auto& brand = config.branding;
    Data d;
    d.set("subject", c.subject);
    d.set("greeting", c.greeting);
    d.set("before", paragraph_list(c.before, text));
    d.set("after", paragraph_list(c.after, text));
    d.set("action_label", c.action_label);
    d.set("action_url", c.action_url);
    if (!c.action_note.empty()) {
        d.set("action_note", text ? wrap_paragraph(c.action_note, text_width) : c.action_note);
    }
    Data links{Data::type::list};
    for (const auto& link : c.links) {
        Data item;
        item.set("label", link.label);
        item.set("url", link.url);
        links.push_back(item);
    }
    d.set("links", links);
    d.set("product_name", brand.product_name);
    if (!brand.support_email.empty()) {
        d.set("support_email", brand.support_email);
    }
    if (!brand.logo_file.empty()) {
        d.set("logo_url", config.public_url + "/static/brand-logo");
    }
    // config.finalize() accepted the accent, so it parses; the fallback is the default accent.
    auto accent = parse_hex_color(brand.accent).value_or(std::array<int, 3>{0x1f, 0x5e, 0xff});
    d.set("accent", brand.accent);
    d.set("accent_ink", readable_ink(accent));
    // Link text needs 4.5:1 against white, more than the 3:1 an accent must have.
    d.set("link_color", contrast_ratio(accent, {255, 255, 255}) >= 4.5 ? brand.accent : "#1d1f24");
    return d;
}

} // namespace

std::string wrap_paragraph(std::string_view paragraph, std::size_t width) {
    std::string out;
    std::size_t column = 0;
    std::size_t start = 0;
    while (start < paragraph.size()) {
        std::size_t end = paragraph.find(' ', start);
        if (end == std::string_view::npos) {
            end = paragraph.size();
        }
        std::string_view word = paragraph.substr(start, end - start);
        std::size_t length = decode_utf8(word).size();
        if (!word.empty()) {
            if (column > 0 && column + 1 + length > width) {
                out += '\n';
                column = 0;
            } else if (column > 0) {
                out += ' ';
                ++column;
            }
            out += word;
            column += length;
        }
        start = end + 1;
    }
    return out;
}

RenderedBodies render_bodies(const EmailContent& content, const Config& config) {
    kainjow::mustache::mustache text(template_text("email.txt.mustache"));
    kainjow::mustache::mustache html(template_text("email.html.mustache"));
    return {text.render(template_data(content, config, true)),
            html.render(template_data(content, config, false))};
}

Email compose_email(const EmailContent& content, const Config& config, std::string recipient,
                    std::optional<std::string> user_id, std::int64_t now) {
    auto bodies = render_bodies(content, config);
    Email email;
    email.id = crypto::random_uuid();
    email.kind = content.kind;
    email.user_id = std::move(user_id);
    email.recipient = std::move(recipient);
    email.subject = content.subject;
    email.body_text = std::move(bodies.text);
    email.body_html = std::move(bodies.html);
    email.created_at = now;
    email.next_attempt_at = now;
    return email;
}

} // namespace provisiond::outbox
