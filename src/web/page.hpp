#pragma once
// Renders a page: a template inside the layout, HTML-escaped by default, with the headers every
// page carries (CSP, frame-ancestors 'none', no-store). docs/PAGES.md.

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

/// Renders templates/<name>.mustache inside templates/layout.mustache. `title` is required in data.
http::Response render_page(std::string_view name, PageData data, const PageOptions& options = {});

/// A 302 to `location` (with the page headers).
http::Response redirect(std::string location);

/// A simple message page: a title, a paragraph, and an optional link.
http::Response message_page(unsigned status, std::string title, std::string message,
                            std::string link = "", std::string link_text = "");

/// 503: storage (or another dependency) did not answer. The error's detail goes to the access
/// log with the request id, never to the page.
http::Response storage_trouble_page(const Error& error);
/// 403: a form without the right CSRF token.
http::Response form_expired_page();

/// GET /static/<name>: an embedded static file.
http::Response static_file(std::string_view name);

/// The page headers (also for redirects).
void add_page_headers(http::Response& response,
                      const std::vector<std::string>& form_action_origins = {});

} // namespace provisiond::web
