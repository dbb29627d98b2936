#pragma once
// Self-registration of metadata-document clients (docs/CIMD.md): the first request from an
// unknown client URL starts a background fetch and is told to retry; stale documents are
// refreshed in the background while requests use the last good one; client_registration
// fetches synchronously and reports named checks. Concurrent fetches of one URL are shared.

#include "cimd/cache_policy.hpp"
#include "cimd/client_metadata.hpp"
#include "cimd/document_fetcher.hpp"
#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "oauth/partner_directory.hpp"

#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>

namespace provisiond::cimd {

/// One named check of a registration, as client_registration reports it.
struct Check {
    std::string name;
    bool ok = false;
    std::string detail;
};

struct RegistrationReport {
    bool registered = false;
    std::optional<oauth::OAuthClient> client; ///< when registered
    std::vector<Check> checks;
    std::string failure; ///< the first failed check's detail, when not registered
};

/// Fetches and validates without storing anything (the operator's `clients check`).
RegistrationReport inspect_document(DocumentFetcher& fetcher, std::string_view client_id);

class ClientRegistrar final : public oauth::PartnerDirectory {
public:
    static constexpr std::int64_t retry_after_seconds = 5;
    static constexpr std::int64_t lease_seconds = 30; ///< longer than the longest fetch

    ClientRegistrar(UnitOfWork& uow, const Clock& clock, DocumentFetcher& fetcher,
                    CacheBounds bounds, std::shared_ptr<spdlog::logger> log,
                    std::size_t threads = 2, int max_synchronous_fetches = 2);
    ~ClientRegistrar() override;

    Result<oauth::PartnerLookup> find_partner(std::string_view client_id,
                                              std::string_view remote_address) override;

    /// POST client_registration: (re)fetches now and reports each check. Fails only when over
    /// a limit or when storage fails; a bad document is a report with registered = false.
    Result<RegistrationReport> register_now(std::string_view client_id,
                                            std::string_view remote_address);

    /// The client now, fetching a new metadata document synchronously (GET /oauth/authorize,
    /// where there is a person waiting and no retry protocol). Fails with unauthorized.
    Result<oauth::OAuthClient> find_client_now(std::string_view client_id,
                                               std::string_view remote_address);

    /// Waits for background fetches to end. Cancel the fetcher first to make it quick.
    void stop();
    /// Fetches (by outcome) and fresh-document cache hits are counted there.
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    TelemetryHook telemetry_;
    RegistrationReport fetch_shared(const ClientIdUrl& url);
    /// fetch_shared for a request thread, or unavailable when too many already wait.
    Result<RegistrationReport> fetch_for_request(const ClientIdUrl& url);
    RegistrationReport fetch_and_store(const ClientIdUrl& url);
    Result<void> store_failure(const ClientIdUrl& url, const std::string& message,
                               std::int64_t now);
    Result<Check> link_verification(Repositories& r, const ClientIdUrl& url,
                                    const std::optional<std::string>& token,
                                    std::optional<std::string>& organization, std::int64_t now);
    void start_background(const ClientIdUrl& url);
    /// Fetches the client's logo when its logo_uri is new or changed (in the background).
    void refresh_logo(const oauth::OAuthClient& client);

    UnitOfWork& uow_;
    const Clock& clock_;
    DocumentFetcher& fetcher_;
    CacheBounds bounds_;
    std::shared_ptr<spdlog::logger> log_;
    oauth::RegisteredPartners registered_;
    std::mutex mutex_;
    std::map<std::string, std::shared_future<RegistrationReport>> in_flight_;
    /// Request threads waiting on a fetch now: capped, so slow documents cannot take every worker.
    std::atomic<int> synchronous_fetches_{0};
    int max_synchronous_fetches_;
    boost::asio::thread_pool pool_;
};

} // namespace provisiond::cimd
