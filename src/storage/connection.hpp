#pragma once
// The tiny driver port every SQL backend implements. Statements are written once, with $1..$n
// placeholders, in the repositories under storage/; a driver only binds, steps and maps errors.

#include "core/error.hpp"
#include "core/unit_of_work.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace provisiond::storage {

struct Null {};
/// A bound parameter or a column value: SQL NULL, a 64-bit integer or text.
using Value = std::variant<Null, std::int64_t, std::string>;

inline Value optional_text(const std::optional<std::string>& v) {
    return v ? Value{*v} : Value{Null{}};
}
inline Value optional_int(const std::optional<std::int64_t>& v) {
    return v ? Value{*v} : Value{Null{}};
}

/// One result row; accessors assume the statement's column types (a mismatch is a bug).
class Row {
public:
    explicit Row(std::vector<Value> columns) : columns_(std::move(columns)) {}
    bool is_null(std::size_t i) const { return std::holds_alternative<Null>(columns_.at(i)); }
    std::int64_t integer(std::size_t i) const;
    std::string text(std::size_t i) const;
    std::optional<std::string> optional_text(std::size_t i) const;
    std::optional<std::int64_t> optional_integer(std::size_t i) const;

private:
    std::vector<Value> columns_;
};

/// The message of every error that says the database could not serve a statement now (a lock
/// wait timed out, the session died): how the group-commit writer tells it from a unit's own
/// unavailable errors (storage/group_commit.cpp).
inline constexpr const char* storage_unavailable_message = "storage unavailable";

/// True when `error` is the database's own unavailability (above).
bool is_storage_unavailable(const Error& error);

/// One database session. Not thread-safe: a connection is leased to one thread at a time.
class Connection {
public:
    virtual ~Connection() = default;
    /// Runs a statement and returns every row it produced.
    virtual Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) = 0;
    /// Runs a statement and returns the number of rows it changed.
    virtual Result<std::int64_t> execute(std::string_view sql, std::span<const Value> params) = 0;
    /// Runs several statements separated by semicolons (migrations).
    virtual Result<void> execute_script(std::string_view sql) = 0;
    virtual Result<void> begin(TransactionMode mode) = 0;
    virtual Result<void> commit() = 0;
    virtual void rollback() = 0;
    /// The dialect's name as used in storage/migrations/<dialect>/ (its overrides of common/).
    virtual std::string_view dialect() const = 0;
    /// True once the session is gone (server restarted, network cut): the pool then drops the
    /// connection instead of lending it again, and the next lease opens a new one.
    virtual bool broken() const { return false; }
    /// False when the database ended the transaction by itself (SQLite rolls back on some
    /// I/O and out-of-memory errors): what ran in it since BEGIN is gone.
    virtual bool in_transaction() const { return true; }

    // Held-back statements. Inside a transaction, a statement whose only outcome that matters
    // is success (an INSERT, an UPDATE whose count nobody reads) may be held back by the driver
    // and sent with whatever runs next on the connection, in one round trip (PostgreSQL: a
    // libpq pipeline). They run in order, before anything sent after them, so a later query
    // sees them. Their failure comes back from that next call: a caller that must react to a
    // statement's own error (a conflict it handles) uses execute() instead.

    /// Runs `sql` now (SQLite: statements are function calls) or holds it back (above).
    virtual Result<void> execute_deferred(std::string_view sql, std::span<const Value> params) {
        auto ran = execute(sql, params);
        if (!ran) {
            return ran.error();
        }
        return {};
    }
    /// Sends what is held back and waits for it; then runs `next_script` (statements separated
    /// by semicolons; may be empty) in the same round trip. `held` is the outcome of the
    /// held-back statements; `next` that of `next_script`, which runs only if they succeeded.
    struct Settled {
        Result<void> held;
        Result<void> next;
        /// The first failure of the two.
        Result<void> combined() const { return held ? next : held; }
    };
    virtual Settled settle(std::string_view next_script) {
        if (next_script.empty()) {
            return {Result<void>{}, Result<void>{}};
        }
        return {Result<void>{}, execute_script(next_script)};
    }
    /// Forgets what is held back (the unit they belonged to failed and is rolled back).
    virtual void discard_deferred() {}
};

/// Convenience: query with an initializer list of parameters.
inline Result<std::vector<Row>> query(Connection& c, std::string_view sql,
                                      std::initializer_list<Value> params = {}) {
    return c.query(sql, std::span<const Value>(params.begin(), params.size()));
}
inline Result<std::int64_t> execute(Connection& c, std::string_view sql,
                                    std::initializer_list<Value> params = {}) {
    return c.execute(sql, std::span<const Value>(params.begin(), params.size()));
}

/// Runs a statement meant to change exactly one row (a compare-and-set by key, an update of
/// one record): true when it did, false when no row matched.
inline Result<bool> execute_one(Connection& c, std::string_view sql,
                                std::initializer_list<Value> params = {}) {
    ASSIGN_OR_RETURN(auto changed,
                     c.execute(sql, std::span<const Value>(params.begin(), params.size())));
    return changed == 1;
}

/// Convenience: execute_deferred with an initializer list of parameters.
inline Result<void> execute_deferred(Connection& c, std::string_view sql,
                                     std::initializer_list<Value> params = {}) {
    return c.execute_deferred(sql, std::span<const Value>(params.begin(), params.size()));
}

/// The first row of a query converted to T, or nullopt when there is none.
template <class T, class F>
Result<std::optional<T>> first(Result<std::vector<Row>> rows, F convert) {
    if (!rows) {
        return rows.error();
    }
    if (rows->empty()) {
        return std::optional<T>{};
    }
    return std::optional<T>{convert(rows->front())};
}

} // namespace provisiond::storage
