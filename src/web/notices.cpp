#include "web/notices.hpp"

#include "http/body.hpp"

#include <array>
#include <utility>

namespace provisiond::web {

std::string notice_for(const http::Request& request) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> notices{{
        {"key_revoked", "The key was revoked. Programs using it can no longer call the API."},
        {"token_revoked", "The verification token was revoked."},
        {"app_disconnected", "The app was disconnected. Its access to your account has ended."},
        {"password_changed",
         "Your password was changed. Every other browser signed in to your account was "
         "signed out."},
        {"signed_out_everywhere", "You were signed out on every device. Log in again to continue."},
        {"password_set", "Your password is set. You are signed in."},
    }};
    auto name = http::query_param(request, "notice");
    for (const auto& [code, text] : notices) {
        if (name == code) {
            return std::string(text);
        }
    }
    return "";
}

} // namespace provisiond::web
