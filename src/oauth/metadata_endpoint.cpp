#include "oauth/metadata_endpoint.hpp"

#include "oauth/scopes.hpp"

#include <boost/json.hpp>

namespace provisiond::oauth {

http::Response handle_metadata(const Config& config) {
    const std::string& issuer = config.public_url;
    boost::json::array scopes;
    for (const auto& s : scope_catalog()) {
        scopes.emplace_back(s);
    }
    boost::json::object out{
        {"issuer", issuer},
        {"authorization_endpoint", issuer + "/oauth/authorize"},
        {"token_endpoint", issuer + "/oauth/token"},
        {"revocation_endpoint", issuer + "/oauth/revoke"},
        {"introspection_endpoint", issuer + "/oauth/introspect"},
        {"response_types_supported", boost::json::array{"code"}},
        {"response_modes_supported", boost::json::array{"query"}},
        {"grant_types_supported", boost::json::array{"authorization_code", "refresh_token"}},
        {"code_challenge_methods_supported", boost::json::array{"S256"}},
        {"token_endpoint_auth_methods_supported", boost::json::array{"none"}},
        {"revocation_endpoint_auth_methods_supported", boost::json::array{"none"}},
        {"introspection_endpoint_auth_methods_supported", boost::json::array{"bearer"}},
        {"scopes_supported", scopes},
        {"authorization_response_iss_parameter_supported", true},
        {"client_id_metadata_document_supported", true},
    };
    auto r = http::json_response(200, boost::json::serialize(out));
    r.set_header("Cache-Control", "public, max-age=300");
    return r;
}

} // namespace provisiond::oauth
