#pragma once
// Renders pages: a template inside the layout, HTML-escaped by default, carrying the operator's
// branding (product name, logo, accent colour, support address, dashboard link) and the headers
// every page carries (CSP, frame-ancestors 'none', no-store). docs/PAGES.md.

#include "config/config.hpp"
#include "core/error.hpp"
#include "http/message.hpp"

#include <kainjow/mustache.hpp>
#include <string>
#include <vector>

namespace provisiond::web {

using PageData = kainjow::mustache::data;

struct PageOptions {
    unsigned status = 200;
    /// Origins a form on this page may submit to besides our own (the consent page's redirect).
    std::vector<std::string> form_action_origins;
};

/// The operator's look, read once at start-up: the settings plus the logo file's bytes and the
/// stylesheet that sets the accent colour.
struct PageLook {
    std::string product_name;
    std::string support_email;
    std::string dashboard_link; ///< where the header's product name leads
    std::string logo;           ///< the logo file's bytes; empty: the neutral mark
    std::string logo_type;      ///< its media type
    std::string brand_css;      ///< /static/brand.css

    /// Reads the logo (at most 256 KiB) and derives the stylesheet; an error names the file.
    static Result<PageLook> load(const Branding& branding);
};

class Pages {
public:
    explicit Pages(PageLook look) : look_(std::move(look)) {}

    /// Renders templates/<name>.mustache inside templates/layout.mustache; `title` is required.
    http::Response render(std::string_view name, PageData data,
                          const PageOptions& options = {}) const;

    /// A simple message page: a title, a paragraph, and an optional link.
    http::Response message(unsigned status, std::string title, std::string message,
                           std::string link = "", std::string link_text = "") const;

    /// 503: storage (or another dependency) did not answer. The error's detail goes to the access
    /// log with the request id, never to the page.
    http::Response storage_trouble(const Error& error) const;
    /// 403: a form without the right CSRF token.
    http::Response form_expired() const;
    /// 404 for a person who followed a bad link.
    http::Response not_found() const;

    /// GET /static/<name>: an embedded static file, or brand.css / brand-logo.
    http::Response static_file(std::string_view name) const;

private:
    PageLook look_;
};

/// A 302 to `location` (with the page headers).
http::Response redirect(std::string location);

/// The page headers (also for redirects).
void add_page_headers(http::Response& response,
                      const std::vector<std::string>& form_action_origins = {});

} // namespace provisiond::web
