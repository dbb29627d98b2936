#include "web/page.hpp"

#include "core/color.hpp"
#include "http/error_envelope.hpp"
#include "web/assets.hpp"

#include <fstream>
#include <sstream>

namespace provisiond::web {
namespace {

constexpr std::size_t max_logo_bytes = 256 * 1024;

std::string asset(std::string_view name) {
    const auto& all = embedded_assets();
    auto it = all.find(std::string(name));
    return it == all.end() ? std::string() : std::string(it->second);
}

std::string media_type_of(const std::string& file) {
    if (file.ends_with(".png")) {
        return "image/png";
    }
    if (file.ends_with(".webp")) {
        return "image/webp";
    }
    if (file.ends_with(".svg")) {
        return "image/svg+xml";
    }
    return "image/jpeg";
}

} // namespace

Result<PageLook> PageLook::load(const Branding& branding) {
    PageLook look;
    look.product_name = branding.product_name;
    look.support_email = branding.support_email;
    look.dashboard_link = branding.dashboard_url.empty() ? "/dashboard" : branding.dashboard_url;
    // config.finalize() accepted the accent; the fallback is the default one.
    auto accent = parse_hex_color(branding.accent).value_or(std::array<int, 3>{0x1f, 0x5e, 0xff});
    look.brand_css = ":root { --accent: " + branding.accent +
                     "; --accent-ink: " + readable_ink(accent) + "; }\n";
    if (!branding.logo_file.empty()) {
        std::ifstream in(branding.logo_file, std::ios::binary);
        if (!in) {
            return make_error(ErrorCode::invalid_request,
                              "brand-logo: cannot read " + branding.logo_file);
        }
        std::ostringstream bytes;
        bytes << in.rdbuf();
        look.logo = bytes.str();
        if (look.logo.empty() || look.logo.size() > max_logo_bytes) {
            return make_error(ErrorCode::invalid_request,
                              "brand-logo: " + branding.logo_file +
                                  " must hold 1 byte to 256 KiB (a logo about 28 px high)");
        }
        look.logo_type = media_type_of(branding.logo_file);
    }
    return look;
}

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

http::Response Pages::render(std::string_view name, PageData data,
                             const PageOptions& options) const {
    kainjow::mustache::mustache page(asset(std::string(name) + ".mustache"));
    std::string content = page.render(data);
    data.set("content", content);
    data.set("product_name", look_.product_name);
    data.set("dashboard_link", look_.dashboard_link);
    data.set("has_logo", !look_.logo.empty());
    if (!look_.support_email.empty()) {
        data.set("support_email", look_.support_email);
    }
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

http::Response Pages::message(unsigned status, std::string title, std::string message,
                              std::string link, std::string link_text) const {
    PageData data;
    data.set("title", title);
    data.set("message", message);
    if (!link.empty()) {
        data.set("link", link);
        data.set("link_text", link_text);
    }
    return render("message", data, {status, {}});
}

http::Response Pages::storage_trouble(const Error& error) const {
    auto page = message(503, "Something went wrong",
                        "We could not complete this step. Please try again in a moment.");
    page.debug = error.debug.empty() ? error.message : error.debug;
    page.set_header("Retry-After", std::to_string(http::unavailable_retry_after_seconds));
    return page;
}

http::Response Pages::form_expired() const {
    return message(
        403, "This form has expired",
        "For your safety the form could not be accepted. Go back, reload the page and try again.");
}

http::Response Pages::not_found() const {
    return message(404, "Page not found",
                   "There is nothing at this address. Check the link, or go to your dashboard.",
                   "/dashboard", "Go to your dashboard");
}

http::Response Pages::static_file(std::string_view name) const {
    http::Response r;
    r.set_header("Cache-Control", "public, max-age=3600");
    r.set_header("X-Content-Type-Options", "nosniff");
    if (name == "brand.css") {
        r.content_type = "text/css; charset=utf-8";
        r.body = look_.brand_css;
        return r;
    }
    if (name == "brand-logo" && !look_.logo.empty()) {
        r.content_type = look_.logo_type;
        r.body = look_.logo;
        // An SVG opened on its own runs no script and loads nothing.
        r.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
        return r;
    }
    const auto& all = embedded_assets();
    auto it = all.find(std::string(name));
    if (it == all.end() || name.find(".mustache") != std::string_view::npos) {
        return not_found();
    }
    r.content_type =
        name.ends_with(".css") ? "text/css; charset=utf-8" : "application/octet-stream";
    r.body = std::string(it->second);
    return r;
}

} // namespace provisiond::web
