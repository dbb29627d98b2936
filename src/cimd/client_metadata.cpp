#include "cimd/client_metadata.hpp"

#include "cimd/address_policy.hpp"
#include "core/strings.hpp"
#include "core/unicode.hpp"
#include "core/url.hpp"
#include "oauth/scopes.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace provisiond::cimd {
namespace {

constexpr std::size_t max_redirect_uris = 20;
constexpr std::size_t max_uri_length = 2048;
constexpr std::size_t max_client_name_chars = 100;

Error invalid(std::string message) {
    return make_error(ErrorCode::registration_failed,
                      "the metadata document is invalid: " + message);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool is_loopback_host(std::string_view host) {
    return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

std::optional<std::string> string_member(const boost::json::object& o, std::string_view key) {
    if (auto it = o.find(key); it != o.end() && it->value().is_string()) {
        return std::string(it->value().as_string());
    }
    return std::nullopt;
}

} // namespace

std::string redirect_uri_problem(std::string_view uri) {
    std::string shown = "redirect_uris entry `" + truncate_utf8(uri, 200) + "`";
    if (uri.empty()) {
        return "redirect_uris must not contain an empty string";
    }
    if (uri.size() > max_uri_length) {
        return shown + " is longer than 2048 bytes";
    }
    for (unsigned char c : uri) {
        if (c <= 0x20 || c == 0x7f) {
            return shown + " contains whitespace or a control character";
        }
    }
    auto parsed = parse_absolute_url(uri);
    if (!parsed) {
        return shown + " is not an absolute URI";
    }
    if (uri.find('#') != std::string_view::npos) {
        return shown + " must not contain a fragment";
    }
    if (parsed->has_userinfo()) {
        return shown + " must not contain user information";
    }
    std::string scheme = lower(parsed->scheme());
    std::string host = lower(parsed->encoded_host());
    if (scheme == "https") {
        return host.empty() ? shown + " has no host" : "";
    }
    if (scheme == "http") {
        return is_loopback_host(host)
                   ? ""
                   : shown + " must use https (http is allowed only for loopback: "
                             "localhost, 127.0.0.1, [::1])";
    }
    static const char* forbidden[] = {"javascript", "data", "file", "blob", "vbscript",
                                      "about",      "ftp",  "ws",   "wss"};
    if (std::find(std::begin(forbidden), std::end(forbidden), scheme) != std::end(forbidden)) {
        return shown + " uses the " + scheme + ": scheme, which is never allowed";
    }
    // RFC 8252 §7.1 private-use schemes are reverse domain names: com.example.app:/cb
    if (scheme.find('.') != std::string::npos) {
        return "";
    }
    return shown + " must be an https URL (or http on loopback, or a reverse-domain app scheme)";
}

std::string redact_document(std::string_view body) {
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(body, ec);
    if (ec || !parsed.is_object()) {
        return std::string(body);
    }
    auto mask = [](boost::json::value& v) {
        if (v.is_string()) {
            std::string token(v.as_string());
            v = token.size() > 4 ? "phvt_..." + token.substr(token.size() - 4) : "phvt_...";
        }
    };
    auto& doc = parsed.as_object();
    if (auto it = doc.find("posthog_verification_token"); it != doc.end()) {
        mask(it->value());
    }
    if (auto block = doc.find("com.posthog"); block != doc.end() && block->value().is_object()) {
        if (auto it = block->value().as_object().find("verification_token");
            it != block->value().as_object().end()) {
            mask(it->value());
        }
    }
    return boost::json::serialize(parsed);
}

Result<ClientMetadata> validate_document(const ClientIdUrl& url, std::string_view body) {
    if (body.size() > 5120) {
        return invalid("it is larger than 5120 bytes");
    }
    boost::json::parse_options options;
    options.max_depth = 16;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(body, ec, {}, options);
    if (ec) {
        return invalid("it is not valid JSON (" + ec.message() + ")");
    }
    if (!parsed.is_object()) {
        return invalid("it must be a JSON object");
    }
    const auto& doc = parsed.as_object();
    ClientMetadata out;

    auto client_id = doc.find("client_id");
    if (client_id == doc.end() || !client_id->value().is_string()) {
        return invalid("client_id is missing; it must equal the document's URL " + url.url);
    }
    if (client_id->value().as_string() != url.url) {
        return invalid("client_id `" + truncate_utf8(client_id->value().as_string(), 300) +
                       "` does not equal the URL the document was fetched from, " + url.url);
    }
    out.client_id = url.url;

    auto uris = doc.find("redirect_uris");
    if (uris == doc.end()) {
        return invalid("redirect_uris is missing; list at least one https redirect URI");
    }
    if (!uris->value().is_array() || uris->value().as_array().empty()) {
        return invalid("redirect_uris must be a non-empty array of strings");
    }
    if (uris->value().as_array().size() > max_redirect_uris) {
        return invalid("redirect_uris has more than 20 entries");
    }
    for (const auto& v : uris->value().as_array()) {
        if (!v.is_string()) {
            return invalid("redirect_uris must contain only strings");
        }
        std::string uri(v.as_string());
        if (auto problem = redirect_uri_problem(uri); !problem.empty()) {
            return invalid(problem);
        }
        if (std::find(out.redirect_uris.begin(), out.redirect_uris.end(), uri) ==
            out.redirect_uris.end()) {
            out.redirect_uris.push_back(uri);
        }
    }

    if (auto method = doc.find("token_endpoint_auth_method"); method != doc.end()) {
        if (!method->value().is_string() || method->value().as_string() != "none") {
            return invalid(
                "token_endpoint_auth_method must be \"none\" (or absent): metadata-document "
                "clients are public clients that prove themselves with PKCE, never with a secret");
        }
    }
    for (const char* secret : {"client_secret", "client_secret_expires_at"}) {
        if (doc.contains(secret)) {
            return invalid(std::string(secret) +
                           " must not appear: metadata-document clients have no secret");
        }
    }

    out.client_name =
        clean_display_text(string_member(doc, "client_name").value_or(""), max_client_name_chars);
    if (out.client_name.empty()) {
        out.client_name = url.host;
        out.notes.push_back("client_name is missing or empty; the host name " + url.host +
                            " is shown instead");
    }

    if (auto logo = doc.find("logo_uri"); logo != doc.end()) {
        std::string why;
        if (!logo->value().is_string()) {
            why = "it is not a string";
        } else {
            std::string logo_uri(logo->value().as_string());
            auto parsed_logo = parse_absolute_url(logo_uri);
            boost::system::error_code ip_ec;
            std::string host = parsed_logo ? lower(parsed_logo->encoded_host()) : "";
            if (!parsed_logo || lower(parsed_logo->scheme()) != "https" || host.empty()) {
                why = "it must be an https URL";
            } else if (logo_uri.size() > max_uri_length || parsed_logo->has_userinfo()) {
                why = "it is too long or contains user information";
            } else if (internal_name_refusal(host)) {
                why = "its host is an internal name";
            } else if (boost::asio::ip::make_address(host, ip_ec); !ip_ec || host.front() == '[') {
                why = "its host must be a name, not an IP address";
            } else {
                out.logo_uri = logo_uri;
            }
        }
        if (!why.empty()) {
            out.notes.push_back("logo_uri was dropped: " + why);
        }
    }

    out.scopes = oauth::scope_catalog();
    const boost::json::object* posthog = nullptr;
    if (auto block = doc.find("com.posthog"); block != doc.end() && block->value().is_object()) {
        posthog = &block->value().as_object();
    }
    if (posthog) {
        if (auto scopes = posthog->find("scopes"); scopes != posthog->end()) {
            if (!scopes->value().is_array()) {
                return invalid("com.posthog.scopes must be an array of scope names");
            }
            std::vector<std::string> kept;
            for (const auto& s : scopes->value().as_array()) {
                if (s.is_string() && oauth::is_known_scope(std::string(s.as_string()))) {
                    kept.emplace_back(s.as_string());
                }
            }
            if (kept.empty() && !scopes->value().as_array().empty()) {
                return invalid(
                    "None of the declared com.posthog.scopes are available to self-registered "
                    "clients. Remove the field to register with the default scope set.");
            }
            if (!kept.empty()) {
                if (kept.size() < scopes->value().as_array().size()) {
                    out.notes.push_back("com.posthog.scopes: unknown scopes were ignored");
                }
                out.scopes = sorted_unique(kept);
            }
        }
        out.verification_token = string_member(*posthog, "verification_token");
    }
    if (!out.verification_token) {
        out.verification_token = string_member(doc, "posthog_verification_token");
    }
    return out;
}

} // namespace provisiond::cimd
