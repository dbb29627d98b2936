#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

using cimd::BlockEntry;
using cimd::DocumentRecord;

constexpr std::string_view document_columns =
    "client_id, state, document, fetched_at, fresh_until, last_attempt_at, last_error, "
    "lease_until, "
    "created_at, updated_at";

DocumentRecord document_from(const Row& r) {
    return DocumentRecord{r.text(0),          r.text(1),
                          r.optional_text(2), r.optional_integer(3),
                          r.integer(4),       r.optional_integer(5),
                          r.optional_text(6), r.integer(7),
                          r.integer(8),       r.integer(9)};
}

BlockEntry block_from(const Row& r) {
    return BlockEntry{r.text(0), r.text(1), r.text(2), r.integer(3)};
}

class SqlDocumentRepository final : public cimd::DocumentRepository {
public:
    explicit SqlDocumentRepository(Connection& c) : c_(c) {}

    Result<std::optional<DocumentRecord>> find(std::string_view client_id) override {
        return first<DocumentRecord>(query(c_,
                                           "SELECT " + std::string(document_columns) +
                                               " FROM cimd_documents WHERE client_id = $1",
                                           {std::string(client_id)}),
                                     document_from);
    }

    Result<bool> start_registration(std::string_view client_id, std::int64_t now,
                                    std::int64_t lease_until) override {
        ASSIGN_OR_RETURN(
            auto inserted,
            execute(c_,
                    "INSERT INTO cimd_documents (client_id, state, lease_until, created_at, "
                    "updated_at) VALUES ($1, 'registering', $2, $3, $3) "
                    "ON CONFLICT (client_id) DO NOTHING",
                    {std::string(client_id), lease_until, now}));
        return inserted == 1;
    }

    Result<bool> take_lease(std::string_view client_id, std::int64_t now, std::int64_t lease_until,
                            bool stale_only) override {
        // The compare-and-set that lets one process, of many, fetch a document at a time.
        return execute_one(
            c_,
            std::string("UPDATE cimd_documents SET lease_until = $1 WHERE client_id = $2 "
                        "AND lease_until <= $3") +
                (stale_only ? " AND fresh_until <= $3" : ""),
            {lease_until, std::string(client_id), now});
    }

    Result<void> save(const DocumentRecord& d) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO cimd_documents (client_id, state, document, fetched_at, fresh_until, "
            "last_attempt_at, last_error, lease_until, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (client_id) DO UPDATE "
            "SET "
            "state = excluded.state, document = excluded.document, fetched_at = "
            "excluded.fetched_at, "
            "fresh_until = excluded.fresh_until, last_attempt_at = excluded.last_attempt_at, "
            "last_error = excluded.last_error, lease_until = excluded.lease_until, "
            "updated_at = excluded.updated_at",
            {d.client_id, d.state, optional_text(d.document), optional_int(d.fetched_at),
             d.fresh_until, optional_int(d.last_attempt_at), optional_text(d.last_error),
             d.lease_until, d.created_at, d.updated_at}));
        return {};
    }

    Result<void> remove(std::string_view client_id) override {
        RETURN_IF_ERROR(execute(c_, "DELETE FROM cimd_documents WHERE client_id = $1",
                                {std::string(client_id)}));
        return {};
    }

    Result<void> save_logo(const cimd::ClientLogo& l) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO client_logos (client_id, source_uri, content_type, data_base64, "
                    "fetched_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO UPDATE SET "
                    "source_uri = excluded.source_uri, content_type = excluded.content_type, "
                    "data_base64 = excluded.data_base64, fetched_at = excluded.fetched_at",
                    {l.client_id, l.source_uri, l.content_type, l.data_base64, l.fetched_at}));
        return {};
    }

    Result<std::optional<cimd::ClientLogo>> find_logo(std::string_view client_id) override {
        return first<cimd::ClientLogo>(
            query(c_,
                  "SELECT client_id, source_uri, content_type, data_base64, fetched_at FROM "
                  "client_logos "
                  "WHERE client_id = $1",
                  {std::string(client_id)}),
            [](const Row& r) {
                return cimd::ClientLogo{r.text(0), r.text(1), r.text(2), r.text(3), r.integer(4)};
            });
    }

    Result<void> remove_logo(std::string_view client_id) override {
        RETURN_IF_ERROR(
            execute(c_, "DELETE FROM client_logos WHERE client_id = $1", {std::string(client_id)}));
        return {};
    }

    Result<void> add_block(const BlockEntry& b) override {
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO client_blocklist (entry, kind, reason, created_at) "
                                "VALUES ($1, $2, $3, $4) ON CONFLICT (entry) DO UPDATE SET "
                                "kind = excluded.kind, reason = excluded.reason",
                                {b.entry, b.kind, b.reason, b.created_at}));
        return {};
    }

    Result<bool> remove_block(std::string_view entry) override {
        return execute_one(c_, "DELETE FROM client_blocklist WHERE entry = $1",
                           {std::string(entry)});
    }

    Result<std::vector<BlockEntry>> list_blocks() override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT entry, kind, reason, created_at FROM client_blocklist ORDER BY entry"));
        std::vector<BlockEntry> out;
        for (const auto& r : rows) {
            out.push_back(block_from(r));
        }
        return out;
    }

    Result<std::optional<BlockEntry>> find_block(std::string_view url,
                                                 std::string_view host) override {
        // The URL itself, the host, and each parent domain of the host ("a.b.example.com" is
        // blocked by "b.example.com" and "example.com").
        std::vector<Value> keys{std::string(url)};
        std::string_view h = host;
        while (!h.empty()) {
            keys.emplace_back(std::string(h));
            auto dot = h.find('.');
            if (dot == std::string_view::npos) {
                break;
            }
            h.remove_prefix(dot + 1);
        }
        std::string sql =
            "SELECT entry, kind, reason, created_at FROM client_blocklist WHERE entry IN (";
        for (std::size_t i = 0; i < keys.size(); ++i) {
            sql += (i ? ", $" : "$") + std::to_string(i + 1);
        }
        sql += ") ORDER BY length(entry) DESC LIMIT 1";
        return first<BlockEntry>(c_.query(sql, keys), block_from);
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<cimd::DocumentRepository> make_sql_document_repository(Connection& c) {
    return std::make_unique<SqlDocumentRepository>(c);
}

} // namespace provisiond::storage
