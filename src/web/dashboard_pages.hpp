#pragma once
// The dashboard: organizations and projects with their tokens, personal API keys, connected
// partner apps, and (for admins) CIMD verification tokens. `/project/{id}` is the dashboard
// focused on one project, where deep links land.

#include "web/browser_repository.hpp"
#include "web/web_context.hpp"

#include <boost/json/object.hpp>

#include <variant>

namespace provisiond::web {

class DashboardPages {
public:
    explicit DashboardPages(WebContext context) : c_(context) {}

    http::Response show(const http::Request& request);
    http::Response show_project(const http::Request& request);
    http::Response create_key(const http::Request& request);
    /// GET confirmation pages: what the action will revoke, a button that does it, and Cancel.
    http::Response confirm_revoke_key(const http::Request& request);
    http::Response confirm_disconnect_app(const http::Request& request);
    http::Response confirm_revoke_verification_token(const http::Request& request);
    http::Response revoke_key(const http::Request& request);
    http::Response disconnect_app(const http::Request& request);
    http::Response create_verification_token(const http::Request& request);
    http::Response revoke_verification_token(const http::Request& request);

private:
    struct Shown {
        std::optional<std::string> created_key;
        std::optional<std::string> created_token;
        std::optional<std::int64_t> focused_project;
        std::string notice;
    };
    /// What a confirmation page says and posts.
    struct Confirmation {
        std::string heading;
        std::vector<std::pair<std::string, std::string>> facts; ///< shown as code when named
        std::string consequence;
        std::string action; ///< the POST path
        std::vector<std::pair<std::string, std::string>> fields;
        std::string button;
    };
    http::Response confirm_page(const Visitor& visitor, const Confirmation& confirmation);
    http::Response render(const Visitor& visitor, const Shown& shown);
    /// How long a created secret waits, sealed, for the page after the redirect.
    static constexpr std::int64_t reveal_seconds = 300;
    /// Seals a secret just created for the next page view (crypto/one_time_seal.hpp); returns
    /// the key for the browser's cookie.
    Result<std::string> seal_for_next_view(Repositories& r, const std::string& user_id,
                                           std::string kind, std::string_view secret);
    /// Opens and deletes the user's sealed secret, if the key finds one, into `shown`.
    Result<std::optional<Reveal>> take_sealed(Repositories& r, const std::string& user_id,
                                              const std::string& key, Shown& shown);
    /// 302 to /dashboard, handing the browser the key of the sealed secret.
    http::Response redirect_revealing(const std::string& key);
    /// The signed-in visitor of a form post with a valid CSRF token, or the response to send.
    std::variant<std::pair<Visitor, boost::json::object>, http::Response>
    form_visitor(const http::Request& request);
    WebContext c_;
};

} // namespace provisiond::web
