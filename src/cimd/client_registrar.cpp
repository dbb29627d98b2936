#include "cimd/client_registrar.hpp"

#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "cimd/cimd_repository.hpp"
#include "cimd/registration_limits.hpp"
#include "crypto/crypto.hpp"
#include "oauth/client_repository.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

#include <boost/asio/post.hpp>

namespace provisiond::cimd {
namespace {

constexpr std::string_view verification_prefix = "phvt_";

Check passed(std::string name, std::string detail) {
    return Check{std::move(name), true, std::move(detail)};
}
Check failed_check(std::string name, std::string detail) {
    return Check{std::move(name), false, std::move(detail)};
}

std::string with_notes(std::string detail, const std::vector<std::string>& notes) {
    for (const auto& n : notes) {
        detail += "; " + n;
    }
    return detail;
}

/// The client a valid document describes (the operator's switches keep their defaults).
oauth::OAuthClient client_from(const ClientIdUrl& url, const ClientMetadata& metadata,
                               std::int64_t now) {
    oauth::OAuthClient client;
    client.client_id = url.url;
    client.name = metadata.client_name;
    client.kind = "cimd";
    client.redirect_uris = metadata.redirect_uris;
    client.scopes = metadata.scopes;
    client.logo_uri = metadata.logo_uri;
    client.created_at = now;
    client.updated_at = now;
    return client;
}

/// Checks the client_id URL rules and records the check; nullopt when one is broken.
std::optional<ClientIdUrl> check_url(std::string_view client_id, RegistrationReport& report) {
    auto url = parse_client_id_url(client_id);
    if (!url) {
        report.checks.push_back(failed_check("client_id_url", url.error().message));
        report.failure = url.error().message;
        return std::nullopt;
    }
    report.checks.push_back(
        passed("client_id_url", "an https URL with a path, no query or fragment"));
    return *url;
}

struct ValidDocument {
    FetchedDocument fetched;
    ClientMetadata metadata;
};

/// Fetches and validates; on failure records the failed metadata_document check.
std::optional<ValidDocument> fetch_valid(DocumentFetcher& fetcher, const ClientIdUrl& url,
                                         RegistrationReport& report) {
    auto fetched = fetcher.fetch(url);
    auto metadata =
        fetched ? validate_document(url, fetched->body) : Result<ClientMetadata>(fetched.error());
    if (!metadata) {
        report.failure = metadata.error().message;
        report.checks.push_back(failed_check("metadata_document", report.failure));
        return std::nullopt;
    }
    report.checks.push_back(
        passed("metadata_document",
               with_notes("fetched from " + fetched->address + " and valid", metadata->notes)));
    return ValidDocument{std::move(*fetched), std::move(*metadata)};
}

} // namespace

RegistrationReport inspect_document(DocumentFetcher& fetcher, std::string_view client_id) {
    RegistrationReport report;
    auto url = check_url(client_id, report);
    if (!url) {
        return report;
    }
    auto valid = fetch_valid(fetcher, *url, report);
    if (!valid) {
        return report;
    }
    report.checks.push_back(
        passed("verification_token", valid->metadata.verification_token
                                         ? "present (checked against the database when registered)"
                                         : "absent: the client will be unverified"));
    report.registered = true;
    report.client = client_from(*url, valid->metadata, 0);
    return report;
}

ClientRegistrar::ClientRegistrar(UnitOfWork& uow, const Clock& clock, DocumentFetcher& fetcher,
                                 CacheBounds bounds, std::shared_ptr<spdlog::logger> log,
                                 std::size_t threads, int max_synchronous_fetches)
    : uow_(uow), clock_(clock), fetcher_(fetcher), bounds_(bounds), log_(std::move(log)),
      registered_(uow), max_synchronous_fetches_(max_synchronous_fetches), pool_(threads) {}

Result<RegistrationReport> ClientRegistrar::fetch_for_request(const ClientIdUrl& url) {
    if (synchronous_fetches_.fetch_add(1) >= max_synchronous_fetches_) {
        synchronous_fetches_.fetch_sub(1);
        return make_error(ErrorCode::unavailable, "Too many client registrations are in progress",
                          "synchronous fetch cap reached");
    }
    RegistrationReport report = fetch_shared(url);
    synchronous_fetches_.fetch_sub(1);
    return report;
}

ClientRegistrar::~ClientRegistrar() {
    stop();
}

void ClientRegistrar::stop() {
    pool_.join();
}

Result<oauth::PartnerLookup> ClientRegistrar::find_partner(std::string_view client_id,
                                                           std::string_view remote) {
    if (!looks_like_document_url(client_id)) {
        return registered_.find_partner(client_id, remote);
    }
    auto url = parse_client_id_url(client_id);
    if (!url) {
        // Maybe the operator registered this id by hand; otherwise say which rule it breaks.
        auto known = registered_.find_partner(client_id, remote);
        if (known) {
            return known;
        }
        return make_error(ErrorCode::unauthorized, "Authentication failed: " + url.error().message);
    }
    const std::int64_t now = clock_.now();
    std::optional<oauth::OAuthClient> client;
    std::optional<DocumentRecord> document;
    std::optional<BlockEntry> block;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(client, r.clients().find(url->url));
        ASSIGN_OR_RETURN(document, r.documents().find(url->url));
        ASSIGN_OR_RETURN(block, r.documents().find_block(url->url, url->host));
        return {};
    }));
    if (block && (!client || client->kind == "cimd")) {
        return oauth::unknown_client_error();
    }
    if (client) {
        if (client->kind == "cimd" && document && document->fresh_until <= now &&
            document->lease_until <= now) {
            bool owned = false;
            RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
                ASSIGN_OR_RETURN(
                    owned, r.documents().take_lease(url->url, now, now + lease_seconds, true));
                return {};
            }));
            if (owned) {
                start_background(*url);
            }
        } else if (client->kind == "cimd") {
            telemetry_->count("provisiond_metadata_cache_hits_total");
        }
        return oauth::PartnerLookup{oauth::PartnerLookup::Kind::found, *client, 0};
    }
    if (document && document->state == "registering" && document->lease_until > now) {
        return oauth::PartnerLookup{
            oauth::PartnerLookup::Kind::registering, {}, retry_after_seconds};
    }
    if (document && document->state == "failed") {
        // Report the failure once; the next request starts a new registration.
        RETURN_IF_ERROR(uow_.run(TransactionMode::write,
                                 [&](Repositories& r) { return r.documents().remove(url->url); }));
        return make_error(ErrorCode::unauthorized,
                          "Client registration failed for " + url->url + ": " +
                              document->last_error.value_or("unknown error") +
                              ". Fix the document; the next request registers again.");
    }
    bool started = false;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(
            started, document
                         ? r.documents().take_lease(url->url, now, now + lease_seconds, false)
                         : r.documents().start_registration(url->url, now, now + lease_seconds));
        // Only the request that starts the registration spends the budget: concurrent first
        // requests for one document share it (over the limit, the start is rolled back too).
        if (started) {
            RETURN_IF_ERROR(charge_new_registration(r.rate_limits(), remote, url->host, now));
        }
        return {};
    }));
    if (started) {
        start_background(*url);
    }
    return oauth::PartnerLookup{oauth::PartnerLookup::Kind::registering, {}, retry_after_seconds};
}

Result<RegistrationReport> ClientRegistrar::register_now(std::string_view client_id,
                                                         std::string_view remote) {
    const std::int64_t now = clock_.now();
    RegistrationReport report;
    if (!looks_like_document_url(client_id)) {
        RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) {
            return charge_registration_check(r.rate_limits(), client_id, remote, now);
        }));
        auto known = registered_.find_partner(client_id, remote);
        if (known) {
            report.registered = true;
            report.client = known->client;
            report.checks.push_back(passed("client_exists", "registered by the operator"));
        } else if (known.error().code == ErrorCode::unauthorized) {
            report.failure =
                "No client is registered with this client_id, and it is not an https metadata "
                "document URL. Host a metadata document and use its URL as client_id.";
            report.checks.push_back(failed_check("client_exists", report.failure));
        } else {
            return known.error();
        }
        return report;
    }
    auto url = check_url(client_id, report);
    if (!url) {
        return report;
    }
    std::optional<BlockEntry> block;
    std::optional<oauth::OAuthClient> operator_client;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(charge_registration_check(r.rate_limits(), url->url, remote, now));
        ASSIGN_OR_RETURN(auto existing, r.clients().find(url->url));
        operator_client =
            existing && existing->kind != "cimd" ? existing : std::optional<oauth::OAuthClient>();
        ASSIGN_OR_RETURN(block, r.documents().find_block(url->url, url->host));
        if (!existing && !block) {
            RETURN_IF_ERROR(charge_new_registration(r.rate_limits(), remote, url->host, now));
        }
        return {};
    }));
    if (operator_client) {
        // Registered by the operator: its registration rules, never a document.
        report.registered = true;
        report.client = *operator_client;
        report.checks.push_back(
            passed("client_exists", "registered by the operator; no document is fetched"));
        return report;
    }
    if (block) {
        report.failure = "this client is blocked by the operator";
        report.checks.push_back(failed_check("not_blocked", report.failure));
        return report;
    }
    report.checks.push_back(passed("not_blocked", "not on the operator's blocklist"));
    ASSIGN_OR_RETURN(RegistrationReport fetched, fetch_for_request(*url));
    report.registered = fetched.registered;
    report.client = fetched.client;
    report.failure = fetched.failure;
    report.checks.insert(report.checks.end(), fetched.checks.begin(), fetched.checks.end());
    return report;
}

Result<oauth::OAuthClient> ClientRegistrar::find_client_now(std::string_view client_id,
                                                            std::string_view remote) {
    ASSIGN_OR_RETURN(auto lookup, find_partner(client_id, remote));
    if (lookup.kind == oauth::PartnerLookup::Kind::found) {
        return lookup.client;
    }
    // Registering: wait for the fetch (shared with the background one when it is running).
    ASSIGN_OR_RETURN(RegistrationReport report, fetch_for_request(*parse_client_id_url(client_id)));
    if (!report.registered || !report.client) {
        return make_error(ErrorCode::unauthorized,
                          "The client's metadata document could not be used: " + report.failure);
    }
    return *report.client;
}

RegistrationReport ClientRegistrar::fetch_shared(const ClientIdUrl& url) {
    std::promise<RegistrationReport> promise;
    std::shared_future<RegistrationReport> shared;
    bool owner = false;
    {
        std::lock_guard lock(mutex_);
        if (auto it = in_flight_.find(url.url); it != in_flight_.end()) {
            shared = it->second;
        } else {
            shared = promise.get_future().share();
            in_flight_.emplace(url.url, shared);
            owner = true;
        }
    }
    if (!owner) {
        return shared.get();
    }
    RegistrationReport report;
    try {
        report = fetch_and_store(url);
    } catch (const std::exception& e) {
        report.failure = "internal error while registering";
        log_->error("cimd: registering {} threw: {}", url.url, e.what());
    } catch (...) {
        report.failure = "internal error while registering";
        log_->error("cimd: registering {} threw", url.url);
    }
    telemetry_->count("provisiond_metadata_fetches_total",
                      {{"outcome", report.registered ? "registered" : "failed"}});
    promise.set_value(report);
    std::lock_guard lock(mutex_);
    in_flight_.erase(url.url);
    return report;
}

void ClientRegistrar::start_background(const ClientIdUrl& url) {
    boost::asio::post(pool_, [this, url] {
        RegistrationReport report = fetch_shared(url);
        if (report.registered) {
            log_->info("cimd: fetched the metadata document of {}", url.url);
        } else {
            log_->warn("cimd: fetching the metadata document of {} failed: {}", url.url,
                       report.failure);
        }
    });
}

RegistrationReport ClientRegistrar::fetch_and_store(const ClientIdUrl& url) {
    RegistrationReport report;
    auto valid = fetch_valid(fetcher_, url, report);
    const std::int64_t now = clock_.now();
    if (!valid) {
        if (auto stored = store_failure(url, report.failure, now); !stored) {
            log_->error("cimd: cannot record the failed fetch of {}: {}", url.url,
                        stored.error().debug);
        }
        return report;
    }
    const FetchedDocument* fetched = &valid->fetched;
    const ClientMetadata* metadata = &valid->metadata;
    std::int64_t ttl = freshness_seconds(fetched->cache_control, bounds_);
    auto stored = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        std::optional<std::string> organization;
        ASSIGN_OR_RETURN(auto verification, link_verification(r, url, metadata->verification_token,
                                                              organization, now));
        oauth::OAuthClient client = client_from(url, *metadata, now);
        client.organization_id = organization;
        RETURN_IF_ERROR(r.clients().save_document_client(client));
        ASSIGN_OR_RETURN(auto previous, r.documents().find(url.url));
        DocumentRecord record;
        record.client_id = url.url;
        record.state = "registered";
        record.document = redact_document(fetched->body);
        record.fetched_at = now;
        record.fresh_until = now + ttl;
        record.last_attempt_at = now;
        record.lease_until = 0;
        record.created_at = previous ? previous->created_at : now;
        record.updated_at = now;
        RETURN_IF_ERROR(r.documents().save(record));
        RETURN_IF_ERROR(r.audit().record(
            audit::make_audit(previous ? "partner.refreshed" : "partner.registered",
                              {"system", "", client.client_id, ""},
                              {{"verified", organization.has_value()}, {"kind", "cimd"}}, now)));
        if (!previous) {
            // A partner's first document: it registered itself.
            RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::make_event(
                "partner.registered",
                {{"partner",
                  {{"client_id", client.client_id}, {"name", client.name}, {"kind", "cimd"}}},
                 {"registered_by", "metadata_document"},
                 {"verified", organization.has_value()}},
                now)));
        }
        ASSIGN_OR_RETURN(report.client, r.clients().find(url.url));
        report.checks.push_back(verification);
        return {};
    });
    if (!stored) {
        report.checks.clear();
        report.failure = "the registration could not be stored; retry shortly";
        report.checks.push_back(failed_check("metadata_document", report.failure));
        log_->error("cimd: storing {} failed: {}", url.url, stored.error().debug);
        return report;
    }
    report.registered = true;
    if (report.client) {
        refresh_logo(*report.client);
    }
    return report;
}

void ClientRegistrar::refresh_logo(const oauth::OAuthClient& client) {
    std::optional<ClientLogo> stored;
    (void)uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        auto found = r.documents().find_logo(client.client_id);
        if (found) {
            stored = *found;
        }
        return {};
    });
    if (!client.logo_uri) {
        if (stored) {
            (void)uow_.run(TransactionMode::write, [&](Repositories& r) {
                return r.documents().remove_logo(client.client_id);
            });
        }
        return;
    }
    if (stored && stored->source_uri == *client.logo_uri) {
        return; // the same URL as before: the reviewed image stays (no swap behind our back)
    }
    auto target = fetch_target(*client.logo_uri);
    if (!target) {
        return;
    }
    boost::asio::post(pool_, [this, client_id = client.client_id, target = *target] {
        auto image = fetcher_.fetch_logo(target);
        if (!image) {
            log_->info("cimd: logo of {} not fetched: {}", client_id, image.error().message);
            return;
        }
        auto saved = uow_.run(TransactionMode::write, [&](Repositories& r) {
            return r.documents().save_logo(
                {client_id, target.url,
                 image->content_type.substr(0, image->content_type.find(';')),
                 crypto::base64_encode(image->body), clock_.now()});
        });
        if (!saved) {
            log_->warn("cimd: cannot store the logo of {}: {}", client_id, saved.error().debug);
        }
    });
}

Result<Check> ClientRegistrar::link_verification(Repositories& r, const ClientIdUrl& url,
                                                 const std::optional<std::string>& token,
                                                 std::optional<std::string>& organization,
                                                 std::int64_t now) {
    const std::string name = "verification_token";
    if (!token) {
        return passed(name, "no verification token: the client is unverified");
    }
    if (token->substr(0, verification_prefix.size()) != verification_prefix) {
        return failed_check(
            name, "the verification token does not start with phvt_; the client is unverified");
    }
    ASSIGN_OR_RETURN(auto found, r.verification_tokens().find_by_hash(crypto::sha256_hex(*token)));
    if (!found) {
        return failed_check(name, "the verification token is unknown; the client is unverified");
    }
    if (found->revoked_at) {
        return failed_check(name, "the verification token was revoked; the client is unverified");
    }
    ASSIGN_OR_RETURN(auto bound, r.verification_tokens().bind(found->id, url.url));
    if (!bound) {
        return failed_check(
            name, "the verification token is bound to another client; the client is unverified");
    }
    RETURN_IF_ERROR(r.verification_tokens().touch(found->id, now));
    organization = found->organization_id;
    return passed(name, "verified: linked to organization " + *organization);
}

Result<void> ClientRegistrar::store_failure(const ClientIdUrl& url, const std::string& message,
                                            std::int64_t now) {
    return uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto previous, r.documents().find(url.url));
        ASSIGN_OR_RETURN(auto client, r.clients().find(url.url));
        DocumentRecord record = previous.value_or(DocumentRecord{});
        record.client_id = url.url;
        if (!previous) {
            record.created_at = now;
        }
        // A registered client keeps its last good document and retries later; a new one has failed.
        if (client) {
            record.state = "registered";
            record.fresh_until = now + bounds_.retry_seconds;
        } else {
            record.state = "failed";
        }
        record.last_attempt_at = now;
        record.last_error = message;
        record.lease_until = 0;
        record.updated_at = now;
        return r.documents().save(record);
    });
}

} // namespace provisiond::cimd
