#include "http/router.hpp"

#include "core/unicode.hpp"

#include <exception>

namespace provisiond::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t next = path.find('/', i);
        if (next == std::string_view::npos) {
            next = path.size();
        }
        if (next > i) {
            out.push_back(path.substr(i, next - i));
        }
        i = next + 1;
    }
    return out;
}

} // namespace

void Router::add(std::string method, std::string pattern, Envelope envelope, Handler handler,
                 Runs runs) {
    std::vector<std::string> segments;
    for (auto s : split_path(pattern)) {
        segments.emplace_back(s);
    }
    routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), envelope,
                            std::move(handler), runs});
}

bool Router::match(const Route& route, const std::vector<std::string_view>& segments,
                   std::vector<std::string>* params) {
    if (route.segments.size() != segments.size()) {
        return false;
    }
    std::vector<std::string> found;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto& want = route.segments[i];
        if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
            found.emplace_back(segments[i]);
        } else if (want != segments[i]) {
            return false;
        }
    }
    if (params != nullptr) {
        *params = std::move(found);
    }
    return true;
}

Envelope Router::envelope_for(std::string_view path) const {
    auto segments = split_path(path);
    for (const auto& route : routes_) {
        if (match(route, segments, nullptr)) {
            return route.envelope;
        }
    }
    return Envelope::flat;
}

Runs Router::Match::runs() const {
    return route ? route->runs : Runs::on_io_thread;
}

Router::Match Router::resolve(Request& request) const {
    auto segments = split_path(request.path);
    Match found;
    // A literal segment beats a placeholder: routes are tried in registration order, and the
    // specific ones (…/{id}/rotate_credentials) are registered before the general ones.
    for (const auto& route : routes_) {
        std::vector<std::string> params;
        if (!match(route, segments, &params)) {
            continue;
        }
        if (route.method != request.method &&
            !(route.method == "GET" && request.method == "HEAD")) {
            if (found.allowed.find(route.method) == std::string::npos) {
                found.allowed += found.allowed.empty() ? route.method : ", " + route.method;
            }
            continue;
        }
        request.path_params = std::move(params);
        request.route = route.pattern;
        found.route = &route;
        return found;
    }
    return found;
}

Response Router::respond(const Match& found, Request& request) const {
    if (found.route) {
        try {
            return found.route->handler(request);
        } catch (const std::exception& e) {
            return error_response(found.route->envelope,
                                  make_error(ErrorCode::internal, "", e.what()));
        }
    }
    if (!found.allowed.empty()) {
        Response r = error_response(
            envelope_for(request.path),
            make_error(ErrorCode::method_not_allowed,
                       "Method " + request.method + " is not allowed here; use " + found.allowed));
        r.set_header("Allow", found.allowed);
        return r;
    }
    if (!not_found_) {
        return route_not_found(request);
    }
    try {
        return not_found_(request);
    } catch (const std::exception& e) {
        return error_response(Envelope::flat, make_error(ErrorCode::internal, "", e.what()));
    }
}

Response route_not_found(const Request& request) {
    return error_response(Envelope::flat,
                          make_error(ErrorCode::route_not_found,
                                     "No such endpoint: " + truncate_utf8(request.path, 200)));
}

} // namespace provisiond::http
