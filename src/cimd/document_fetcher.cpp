#include "cimd/document_fetcher.hpp"

#include "core/url.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <sys/socket.h>

namespace provisiond::cimd {
namespace {

Error failed(std::string message) {
    return make_error(ErrorCode::registration_failed, std::move(message));
}

struct Transfer {
    std::size_t max_bytes = max_document_bytes;
    std::string body;
    std::string content_type;
    std::string cache_control;
    bool too_large = false;
    std::string pinned_address; ///< the only address the socket callback lets curl connect to
    bool foreign_connect = false;
    const std::atomic<bool>* cancel = nullptr;
    std::chrono::steady_clock::time_point last_byte = std::chrono::steady_clock::now();
    std::chrono::seconds stall_limit{5};
    bool stalled = false;
};

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) {
        return "";
    }
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t n = size * count;
    if (t->body.size() + n > t->max_bytes) {
        t->too_large = true;
        return 0; // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->body.append(data, n);
    t->last_byte = std::chrono::steady_clock::now();
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    t->last_byte = std::chrono::steady_clock::now();
    std::string_view line(data, size * count);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (name == "content-type") {
            t->content_type = trim(line.substr(colon + 1));
        } else if (name == "cache-control") {
            t->cache_control = t->cache_control.empty()
                                   ? trim(line.substr(colon + 1))
                                   : t->cache_control + ", " + trim(line.substr(colon + 1));
        }
    } else if (line.substr(0, 5) == "HTTP/") {
        t->content_type.clear(); // a new response (e.g. after 100 Continue): forget the old headers
        t->cache_control.clear();
    }
    return size * count;
}

/// Refuses, at the socket level, any address other than the vetted one (defense in depth:
/// CURLOPT_RESOLVE already pins the name, this catches anything that slips past it).
curl_socket_t on_open_socket(void* user, curlsocktype, struct curl_sockaddr* address) {
    auto* t = static_cast<Transfer*>(user);
    char host[NI_MAXHOST] = {0};
    if (getnameinfo(&address->addr, address->addrlen, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0 ||
        boost::asio::ip::make_address(host) != boost::asio::ip::make_address(t->pinned_address)) {
        t->foreign_connect = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->cancel && t->cancel->load()) {
        return 1;
    }
    // A read that stalls: no byte for the stall limit, at any point after connecting.
    if (std::chrono::steady_clock::now() - t->last_byte > t->stall_limit) {
        t->stalled = true;
        return 1;
    }
    return 0;
}

bool is_json_media_type(std::string_view content_type) {
    std::string type = trim(content_type.substr(0, content_type.find(';')));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (type == "application/json") {
        return true;
    }
    return type.rfind("application/", 0) == 0 && type.size() > 17 &&
           type.compare(type.size() - 5, 5, "+json") == 0;
}

bool is_logo_media_type(std::string_view content_type) {
    std::string type = trim(content_type.substr(0, content_type.find(';')));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return type == "image/png" || type == "image/jpeg" || type == "image/gif" ||
           type == "image/webp";
}

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

} // namespace

std::string parse_host_map(const std::vector<std::string>& entries,
                           std::map<std::string, std::string>& out) {
    for (const auto& entry : entries) {
        auto first = entry.find(':');
        auto second = first == std::string::npos ? std::string::npos : entry.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos || first == 0) {
            return "host map entry `" + entry + "` must be HOST:PORT:ADDRESS";
        }
        std::string host = entry.substr(0, first);
        std::string port = entry.substr(first + 1, second - first - 1);
        std::string address = entry.substr(second + 1);
        if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
            address = address.substr(1, address.size() - 2);
        }
        boost::system::error_code ec;
        boost::asio::ip::make_address(address, ec);
        if (ec || port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit)) {
            return "host map entry `" + entry +
                   "` must be HOST:PORT:ADDRESS with a numeric port and an IP address";
        }
        std::transform(host.begin(), host.end(), host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out[host + ":" + port] = address;
    }
    return "";
}

Result<std::string> CurlDocumentFetcher::vetted_address(const ClientIdUrl& url) const {
    if (auto why = internal_name_refusal(url.host)) {
        return failed(*why);
    }
    std::vector<boost::asio::ip::address> addresses;
    boost::system::error_code ec;
    auto literal = boost::asio::ip::make_address(url.host, ec);
    if (!ec) {
        addresses.push_back(literal);
    } else if (auto mapped = settings_.host_map.find(url.host + ":" + std::to_string(url.port));
               mapped != settings_.host_map.end()) {
        addresses.push_back(boost::asio::ip::make_address(mapped->second));
    } else {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        int rc = getaddrinfo(url.host.c_str(), nullptr, &hints, &found);
        if (rc != 0) {
            return failed("could not resolve host " + url.host + ": " + gai_strerror(rc));
        }
        std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
        for (auto* ai = found; ai; ai = ai->ai_next) {
            char text[NI_MAXHOST] = {0};
            if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0,
                            NI_NUMERICHOST) == 0) {
                auto a = boost::asio::ip::make_address(text, ec);
                if (!ec && std::find(addresses.begin(), addresses.end(), a) == addresses.end()) {
                    addresses.push_back(a);
                }
            }
        }
    }
    if (addresses.empty()) {
        return failed("host " + url.host + " has no address");
    }
    // Every address must pass: a name that also resolves to an internal address is refused.
    for (const auto& a : addresses) {
        if (auto why = settings_.policy.refusal(a)) {
            return failed("host " + url.host + " resolves to " + *why);
        }
    }
    return addresses.front().to_string();
}

std::optional<ClientIdUrl> fetch_target(std::string_view text) {
    auto parsed = parse_absolute_url(text);
    if (!parsed || parsed->scheme() != "https" || parsed->encoded_host().empty() ||
        parsed->has_userinfo() || text.size() > 2048) {
        return std::nullopt;
    }
    ClientIdUrl out;
    out.url = std::string(text);
    out.host = std::string(parsed->encoded_host());
    if (out.host.find('%') != std::string::npos || out.host.back() == '.') {
        return std::nullopt; // curl would decode it into a name other than the one we vetted
    }
    std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.host.size() > 2 && out.host.front() == '[') {
        out.host = out.host.substr(1, out.host.size() - 2);
    }
    if (parsed->has_port()) {
        auto port = parsed->port_number();
        if (port == 0) {
            return std::nullopt;
        }
        out.port = port;
    }
    return out;
}

Result<FetchedDocument> CurlDocumentFetcher::fetch(const ClientIdUrl& url) {
    return fetch_as(url, {max_document_bytes, "Accept: application/json", is_json_media_type,
                          "application/json"});
}

Result<FetchedDocument> CurlDocumentFetcher::fetch_logo(const ClientIdUrl& url) {
    return fetch_as(url, {max_logo_bytes, "Accept: image/png, image/jpeg, image/gif, image/webp",
                          is_logo_media_type, "a PNG, JPEG, GIF or WebP image"});
}

Result<FetchedDocument> CurlDocumentFetcher::fetch_as(const ClientIdUrl& url, const Kind& kind) {
    ASSIGN_OR_RETURN(auto address, vetted_address(url));
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
        return failed("could not start an HTTP client");
    }
    Transfer t;
    t.max_bytes = kind.max_bytes;
    t.pinned_address = address;
    t.cancel = cancel_;
    t.stall_limit = std::chrono::seconds(settings_.stall_timeout_seconds);
    t.last_byte =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.connect_timeout_ms);
    CURL* h = curl.get();
    std::string pin_host =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    std::string pin_address =
        address.find(':') != std::string::npos ? "[" + address + "]" : address;
    // A host name is pinned to the vetted address; an IP literal is already an address.
    boost::system::error_code literal_ec;
    boost::asio::ip::make_address(url.host, literal_ec);
    std::unique_ptr<curl_slist, SlistDeleter> resolve(
        literal_ec
            ? curl_slist_append(
                  nullptr, (pin_host + ":" + std::to_string(url.port) + ":" + pin_address).c_str())
            : nullptr);
    std::unique_ptr<curl_slist, SlistDeleter> headers(curl_slist_append(nullptr, kind.accept));
    curl_easy_setopt(h, CURLOPT_URL, url.url.c_str());
    if (resolve) {
        curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
    }
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings_.ca_file.empty()) {
        curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str());
        curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_USERAGENT, settings_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, settings_.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, settings_.total_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, settings_.stall_timeout_seconds);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kind.max_bytes));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    std::string where = "fetching " + url.url + ": ";
    if (t.foreign_connect) {
        return failed(where + "the connection was not to the vetted address; refused");
    }
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return failed(where + "the response is larger than " + std::to_string(kind.max_bytes) +
                      " bytes");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        return failed(where + "timed out (5 s without data or 10 s in all)");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && t.stalled) {
        return failed(where + "timed out (5 s without data or 10 s in all)");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        return failed(where + "cancelled (the server is stopping)");
    }
    if (rc != CURLE_OK) {
        std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
        return failed(where + detail);
    }
    if (status >= 300 && status < 400) {
        return failed(where + "returned a redirect (HTTP " + std::to_string(status) +
                      "); redirects are not allowed");
    }
    if (status != 200) {
        return failed(where + "returned HTTP " + std::to_string(status) +
                      "; the document must be served with 200");
    }
    if (t.content_type.empty()) {
        return failed(where + "the response has no Content-Type; serve it as " + kind.expected);
    }
    if (!kind.accepts(t.content_type)) {
        return failed(where + "the Content-Type is " + t.content_type + "; serve it as " +
                      kind.expected);
    }
    return FetchedDocument{std::move(t.body), std::move(t.content_type), std::move(t.cache_control),
                           address};
}

} // namespace provisiond::cimd
