#pragma once
// Storage ports of the CIMD domain: the fetch state of each metadata document, the operator
// blocklist, and verification tokens. storage/sql_document_repository.cpp and
// storage/sql_verification_token_repository.cpp implement them.

#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::cimd {

/// The fetch state of one client metadata document URL.
struct DocumentRecord {
    std::string client_id;
    std::string state = "registering";      ///< "registering" | "registered" | "failed"
    std::optional<std::string> document;    ///< the last good document, as fetched
    std::optional<std::int64_t> fetched_at; ///< of the last good document
    std::int64_t fresh_until = 0; ///< refresh after this; also the retry time after a failure
    std::optional<std::int64_t> last_attempt_at;
    std::optional<std::string> last_error; ///< of the last attempt; empty when it succeeded
    std::int64_t lease_until = 0;          ///< a process owns the fetch until then
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

struct BlockEntry {
    std::string entry; ///< a client URL, or a host name (blocks it and its subdomains)
    std::string kind;  ///< "url" | "domain"
    std::string reason;
    std::int64_t created_at = 0;
};

/// A partner logo we fetched and serve ourselves.
struct ClientLogo {
    std::string client_id;
    std::string source_uri;
    std::string content_type;
    std::string data_base64;
    std::int64_t fetched_at = 0;
};

class DocumentRepository {
public:
    virtual ~DocumentRepository() = default;
    virtual Result<std::optional<DocumentRecord>> find(std::string_view client_id) = 0;
    /// Inserts a "registering" row that holds the lease; false when a row already exists.
    virtual Result<bool> start_registration(std::string_view client_id, std::int64_t now,
                                            std::int64_t lease_until) = 0;
    /// Takes the lease when it is free and, with `stale_only`, the document is stale (fresh_until
    /// <= now). True when this caller now owns the fetch.
    virtual Result<bool> take_lease(std::string_view client_id, std::int64_t now,
                                    std::int64_t lease_until, bool stale_only) = 0;
    /// Inserts or replaces the row.
    virtual Result<void> save(const DocumentRecord& record) = 0;
    virtual Result<void> remove(std::string_view client_id) = 0;

    virtual Result<void> save_logo(const ClientLogo& logo) = 0;
    virtual Result<std::optional<ClientLogo>> find_logo(std::string_view client_id) = 0;
    virtual Result<void> remove_logo(std::string_view client_id) = 0;

    virtual Result<void> add_block(const BlockEntry& entry) = 0;
    /// False when there was no such entry.
    virtual Result<bool> remove_block(std::string_view entry) = 0;
    virtual Result<std::vector<BlockEntry>> list_blocks() = 0;
    /// The entry that blocks this URL (exactly, or by its host or a parent domain), if any.
    virtual Result<std::optional<BlockEntry>> find_block(std::string_view url,
                                                         std::string_view host) = 0;
};

/// A `phvt_…` token that links a metadata-document client to an organization.
struct VerificationToken {
    std::string id;
    std::string organization_id;
    std::string token_hash;
    std::string hint; ///< the masked form shown in listings (phvt_…abcd)
    std::optional<std::string> bound_client_id; ///< the first client that used it
    std::int64_t created_at = 0;
    std::optional<std::int64_t> revoked_at;
    std::optional<std::int64_t> last_used_at;
};

class VerificationTokenRepository {
public:
    virtual ~VerificationTokenRepository() = default;
    virtual Result<void> insert(const VerificationToken& token) = 0;
    /// Every token, or one organization's, newest first.
    virtual Result<std::vector<VerificationToken>>
    list(const std::optional<std::string>& organization_id) = 0;
    virtual Result<std::optional<VerificationToken>> find_by_hash(std::string_view token_hash) = 0;
    virtual Result<std::optional<VerificationToken>> find(std::string_view id) = 0;
    /// False when no such live token.
    virtual Result<bool> revoke(std::string_view id, std::int64_t now) = 0;
    /// Binds the token to a client when it is not bound yet; true when it is (now) bound to it.
    virtual Result<bool> bind(std::string_view id, std::string_view client_id) = 0;
    virtual Result<void> touch(std::string_view id, std::int64_t now) = 0;
};

} // namespace provisiond::cimd
