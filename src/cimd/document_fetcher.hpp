#pragma once
// Fetches a client metadata document without ever reaching an internal address: resolve once,
// vet every address, connect only to the vetted one (docs/CIMD.md "Fetching").

#include "cimd/address_policy.hpp"
#include "cimd/client_id_url.hpp"
#include "core/error.hpp"

#include <atomic>
#include <map>
#include <string>
#include <vector>

namespace provisiond::cimd {

inline constexpr std::size_t max_document_bytes = 5120;
inline constexpr std::size_t max_logo_bytes = 256 * 1024;

struct FetchSettings {
    AddressPolicy policy;
    std::string ca_file;                         ///< trust only these CAs; empty: the system store
    std::map<std::string, std::string> host_map; ///< "host:port" → address (like curl --resolve)
    std::string user_agent = "provisiond-cimd/1.0";
    long connect_timeout_ms = 5000;
    long stall_timeout_seconds = 5; ///< abort when no byte arrives for this long
    long total_timeout_ms = 10000;
};

/// What a good fetch returned: the body and the headers the cache and validator need.
struct FetchedDocument {
    std::string body;
    std::string content_type;
    std::string cache_control;
    std::string address; ///< the address we connected to
};

class DocumentFetcher {
public:
    virtual ~DocumentFetcher() = default;
    /// A metadata document: JSON, at most 5120 bytes. Fails with registration_failed and a
    /// message that says what went wrong.
    virtual Result<FetchedDocument> fetch(const ClientIdUrl& url) = 0;
    /// A client's logo (logo_uri): PNG, JPEG, GIF or WebP (never SVG, which can carry script),
    /// at most 256 KiB, with the same address rules.
    virtual Result<FetchedDocument> fetch_logo(const ClientIdUrl& url) = 0;
};

/// An https URL from a document (logo_uri) as a fetch target; nullopt when it is not one.
std::optional<ClientIdUrl> fetch_target(std::string_view https_url);

/// The libcurl fetcher. Thread-safe: each fetch uses its own handle.
class CurlDocumentFetcher final : public DocumentFetcher {
public:
    /// `cancel`, when set, aborts fetches in progress (shutdown).
    explicit CurlDocumentFetcher(FetchSettings settings, const std::atomic<bool>* cancel = nullptr)
        : settings_(std::move(settings)), cancel_(cancel) {}
    Result<FetchedDocument> fetch(const ClientIdUrl& url) override;
    Result<FetchedDocument> fetch_logo(const ClientIdUrl& url) override;

    /// Resolves and vets the host (exposed for tests): the address to connect to, or why not.
    Result<std::string> vetted_address(const ClientIdUrl& url) const;

private:
    struct Kind {
        std::size_t max_bytes;
        const char* accept;
        bool (*accepts)(std::string_view content_type);
        const char* expected; ///< for the error message
    };
    Result<FetchedDocument> fetch_as(const ClientIdUrl& url, const Kind& kind);
    FetchSettings settings_;
    const std::atomic<bool>* cancel_;
};

/// Parses "host:port:address" entries into a host map; returns an error message or "".
std::string parse_host_map(const std::vector<std::string>& entries,
                           std::map<std::string, std::string>& out);

} // namespace provisiond::cimd
