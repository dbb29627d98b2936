#include "storage/migrations.hpp"

#include "storage/email_identity_migration.hpp"

#include <ctime>
#include <map>

namespace provisiond::storage {
namespace {

constexpr std::string_view create_ledger =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

Result<int> current_version(Connection& c) {
    ASSIGN_OR_RETURN(auto rows,
                     query(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    return static_cast<int>(rows.at(0).integer(0));
}

/// A step SQL cannot express, run in the migration's transaction right after its SQL file; it
/// returns warnings for the operator or fails (and so rolls back) the migration.
using CodeStep = Result<std::vector<std::string>> (*)(Connection&);

CodeStep code_step(int version) {
    switch (version) {
    case 6: // 0006_email_identity
        return &rekey_email_identities;
    default:
        return nullptr;
    }
}

/// The migrations of `dialect` in version order: storage/migrations/common/ (portable SQL), each
/// replaced by storage/migrations/<dialect>/ where that dialect has a file of the same number
/// (SQL that truly differs: 0001's row ids, 0015's collation).
std::vector<const Migration*> migrations_of(std::string_view dialect) {
    std::map<int, const Migration*> chosen;
    for (const auto& m : embedded_migrations()) {
        if (m.dialect == dialect) {
            chosen[m.version] = &m;
        } else if (std::string_view(m.dialect) == "common") {
            chosen.try_emplace(m.version, &m);
        }
    }
    std::vector<const Migration*> out;
    for (const auto& [version, m] : chosen) {
        out.push_back(m);
    }
    return out;
}

} // namespace

int latest_version(std::string_view dialect) {
    auto all = migrations_of(dialect);
    return all.empty() ? 0 : all.back()->version;
}

Result<int> schema_version(Database& db) {
    int version = 0;
    auto done = db.transact(TransactionMode::write, [&](Connection& c) -> Result<void> {
        if (auto ok = execute(c, create_ledger); !ok) {
            return ok.error();
        }
        ASSIGN_OR_RETURN(auto v, current_version(c));
        version = v;
        return {};
    });
    if (!done) {
        return done.error();
    }
    return version;
}

Result<std::vector<std::string>> migrate(Database& db, std::vector<std::string>* warnings) {
    std::vector<std::string> applied;
    std::string dialect;
    {
        ASSIGN_OR_RETURN(auto probe, db.acquire());
        dialect = std::string(probe->dialect());
    }
    for (const Migration* migration : migrations_of(dialect)) {
        const Migration& m = *migration;
        auto done = db.transact(TransactionMode::write, [&](Connection& c) -> Result<void> {
            if (auto ok = execute(c, create_ledger); !ok) {
                return ok.error();
            }
            ASSIGN_OR_RETURN(auto version, current_version(c));
            if (m.version <= version) {
                return {};
            }
            if (auto ok = c.execute_script(m.sql); !ok) {
                auto err = ok.error();
                err.debug = std::string("migration ") + m.name + ": " + err.debug;
                return err;
            }
            std::vector<std::string> notes;
            if (CodeStep step = code_step(m.version)) {
                auto ran = step(c);
                if (!ran) {
                    auto err = ran.error();
                    err.debug = std::string("migration ") + m.name + ": " + err.debug;
                    return err;
                }
                notes = std::move(*ran);
            }
            RETURN_IF_ERROR(execute(c,
                                    "INSERT INTO schema_migrations (version, name, applied_at) "
                                    "VALUES ($1, $2, $3)",
                                    {std::int64_t{m.version}, std::string(m.name),
                                     static_cast<std::int64_t>(std::time(nullptr))}));
            applied.emplace_back(m.name);
            if (warnings) {
                for (auto& note : notes) {
                    warnings->push_back(std::string(m.name) + ": " + std::move(note));
                }
            }
            return {};
        });
        if (!done) {
            return done.error();
        }
    }
    return applied;
}

} // namespace provisiond::storage
