#include "web/page.hpp"

#include "http/error_envelope.hpp"
#include "web/assets.hpp"

namespace provisiond::web {
namespace {

std::string asset(std::string_view name) {
    const auto& all = embedded_assets();
    auto it = all.find(std::string(name));
    return it == all.end() ? std::string() : std::string(it->second);
}

} // namespace

void add_page_headers(http::Response& r, const std::vector<std::string>& form_action_origins) {
    std::string form_action = "'self'";
    for (const auto& origin : form_action_origins) {
        form_action += " " + origin;
    }
    r.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'self'; img-src 'self'; form-action " +
                     form_action + "; frame-ancestors 'none'; base-uri 'none'");
    r.set_header("X-Frame-Options", "DENY");
    r.set_header("Referrer-Policy",
                 "same-origin"); // nothing leaks to partners; Origin stays meaningful
    r.set_header("Cache-Control", "no-store");
}

http::Response render_page(std::string_view name, PageData data, const PageOptions& options) {
    kainjow::mustache::mustache page(asset(std::string(name) + ".mustache"));
    std::string content = page.render(data);
    data.set("content", content);
    kainjow::mustache::mustache layout(asset("layout.mustache"));
    http::Response r;
    r.status = options.status;
    r.content_type = "text/html; charset=utf-8";
    r.body = layout.render(data);
    add_page_headers(r, options.form_action_origins);
    return r;
}

http::Response redirect(std::string location) {
    http::Response r;
    r.status = 302;
    r.content_type = "text/plain; charset=utf-8";
    r.set_header("Location", std::move(location));
    add_page_headers(r);
    return r;
}

http::Response message_page(unsigned status, std::string title, std::string message,
                            std::string link, std::string link_text) {
    PageData data;
    data.set("title", title);
    data.set("message", message);
    if (!link.empty()) {
        data.set("link", link);
        data.set("link_text", link_text);
    }
    return render_page("message", data, {status, {}});
}

http::Response storage_trouble_page(const Error& error) {
    auto page = message_page(503, "Something went wrong",
                             "We could not complete this step. Please try again in a moment.");
    page.debug = error.debug.empty() ? error.message : error.debug;
    page.set_header("Retry-After", std::to_string(http::unavailable_retry_after_seconds));
    return page;
}

http::Response form_expired_page() {
    return message_page(
        403, "This form has expired",
        "For your safety the form could not be accepted. Go back, reload the page and try again.");
}

http::Response static_file(std::string_view name) {
    const auto& all = embedded_assets();
    auto it = all.find(std::string(name));
    if (it == all.end() || name.find(".mustache") != std::string_view::npos) {
        return message_page(404, "Not found", "There is nothing here.");
    }
    http::Response r;
    r.content_type =
        name.ends_with(".css") ? "text/css; charset=utf-8" : "application/octet-stream";
    r.body = std::string(it->second);
    r.set_header("Cache-Control", "public, max-age=3600");
    return r;
}

} // namespace provisiond::web
