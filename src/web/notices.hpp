#pragma once
// What a page says after an action that redirected to it ("The key was revoked."). The redirect
// names the notice (?notice=key_revoked); the text lives here, so a link cannot make a page say
// anything else.

#include "http/message.hpp"

#include <string>

namespace provisiond::web {

/// The text of the request's ?notice=, or "" for none or an unknown name.
std::string notice_for(const http::Request& request);

} // namespace provisiond::web
