// libFuzzer target for the CIMD parsers that read attacker-chosen bytes: the client_id URL rules
// and the metadata-document validator. Beyond "no crash, no sanitizer report", it checks the
// promises the rest of the server relies on, and aborts when one is broken.
#include "cimd/client_id_url.hpp"
#include "cimd/client_metadata.hpp"
#include "oauth/scopes.hpp"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace provisiond;

void require(bool condition) {
    if (!condition) {
        std::abort();
    }
}

void fuzz_url(std::string_view input) {
    auto url = cimd::parse_client_id_url(input);
    if (!url) {
        require(!url.error().message.empty());
        return;
    }
    require(url->url == input); // compared as exact strings: never normalized
    require(input.substr(0, 8) == "https://");
    require(input.find('#') == std::string_view::npos && input.find('?') == std::string_view::npos);
    require(input.find('\\') == std::string_view::npos);
    std::string_view authority = input.substr(8, input.find('/', 8) - 8);
    require(authority.find('@') == std::string_view::npos); // no userinfo
    require(!url->host.empty() && url->port != 0);
    for (unsigned char c : input) {
        require(c > 0x20 && c < 0x7f);
    }
}

void fuzz_document(std::string_view body) {
    static const cimd::ClientIdUrl url =
        *cimd::parse_client_id_url("https://partner.example/client.json");
    auto metadata = cimd::validate_document(url, body);
    if (!metadata) {
        require(metadata.error().code == ErrorCode::registration_failed &&
                !metadata.error().message.empty());
        return;
    }
    require(metadata->client_id == url.url);
    require(!metadata->redirect_uris.empty() && metadata->redirect_uris.size() <= 20);
    for (const auto& uri : metadata->redirect_uris) {
        require(cimd::redirect_uri_problem(uri).empty());
    }
    require(!metadata->client_name.empty());
    for (unsigned char c : metadata->client_name) {
        require(c >= 0x20 && c != 0x7f);
    }
    require(!metadata->scopes.empty() &&
            oauth::within_ceiling(metadata->scopes, oauth::scope_catalog()));
    if (metadata->logo_uri) {
        std::string scheme = metadata->logo_uri->substr(0, 8);
        for (auto& c : scheme) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        require(scheme == "https://");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1) {
        fuzz_document(input);
    } else {
        fuzz_url(input);
    }
    return 0;
}
