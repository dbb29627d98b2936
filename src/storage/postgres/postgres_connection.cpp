#include "storage/postgres/postgres_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <unordered_map>
#include <utility>

namespace provisiond::storage {
namespace {

// Type OIDs of the columns we convert to integers (catalog/pg_type_d.h, stable since 7.x).
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid bool_oid = 16;
constexpr Oid numeric_oid = 1700; // SUM(bigint)

/// A write transaction: the advisory lock every provisiond write transaction takes (its key is
/// "prov" in ASCII, 0x70726f76): writers queue on it across all processes the way SQLite's
/// writers queue on its one write lock. READ COMMITTED, so that every statement after the lock
/// sees what the previous writer committed (a REPEATABLE READ snapshot would be taken before the
/// lock was granted).
constexpr const char* begin_write =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(1886547830)";

/// A read transaction: one snapshot for all its statements (taken at the first of them).
constexpr const char* begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// How long a statement waits for a lock (the writer lock included) before failing as
/// unavailable (503), like SQLite's busy timeout.
/// Notices ("relation already exists, skipping") are not the operator's business: warnings and
/// errors only.
constexpr const char* session_settings =
    "SET lock_timeout = '10s'; SET TIME ZONE 'UTC'; SET client_min_messages = warning";

/// "bind: parameter $N" (appended: GCC 12 at -O3 misreads "literal" + to_string, -Wrestrict).
std::string bind_detail(std::size_t n) {
    std::string out = "bind: parameter $";
    out += std::to_string(n);
    return out;
}

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

/// Unavailable for what a retry or another moment can fix (connection, locks, resources,
/// serialization), conflict for integrity violations, internal for everything else.
ErrorCode classify(std::string_view sqlstate, bool connection_bad) {
    if (connection_bad || sqlstate.empty()) {
        return ErrorCode::unavailable;
    }
    std::string_view cls = sqlstate.substr(0, 2);
    if (cls == "23") {
        return ErrorCode::conflict;
    }
    if (cls == "08" || cls == "53" || cls == "57" || cls == "40" || sqlstate == "55P03" ||
        sqlstate == "55006") {
        return ErrorCode::unavailable;
    }
    return ErrorCode::internal;
}

class PostgresConnection final : public Connection {
public:
    explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
    ~PostgresConnection() override { PQfinish(conn_); }

    Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) override {
        ASSIGN_OR_RETURN(auto result, run(sql, params));
        PGresult* r = result.get();
        int rows = PQntuples(r);
        int columns = PQnfields(r);
        std::vector<Row> out;
        out.reserve(static_cast<std::size_t>(rows));
        for (int i = 0; i < rows; ++i) {
            std::vector<Value> values;
            values.reserve(static_cast<std::size_t>(columns));
            for (int j = 0; j < columns; ++j) {
                values.push_back(column(r, i, j));
            }
            out.emplace_back(std::move(values));
        }
        return out;
    }

    Result<std::int64_t> execute(std::string_view sql, std::span<const Value> params) override {
        ASSIGN_OR_RETURN(auto result, run(sql, params));
        std::string_view affected = PQcmdTuples(result.get());
        std::int64_t n = 0;
        std::from_chars(affected.data(), affected.data() + affected.size(), n);
        return n;
    }

    Result<void> execute_script(std::string_view sql) override {
        if (holding()) {
            return settle(sql).combined();
        }
        return run_plain(std::string(sql), "script");
    }

    Result<void> execute_deferred(std::string_view sql, std::span<const Value> params) override {
        if (!begin_held_ && PQtransactionStatus(conn_) != PQTRANS_INTRANS) {
            ASSIGN_OR_RETURN(auto done, run(sql, params)); // nothing to share a round trip with
            return {};
        }
        deferred_.push_back(Deferred{std::string(sql), {params.begin(), params.end()}});
        return {};
    }

    Settled settle(std::string_view next_script) override {
        if (!holding()) {
            return Connection::settle(next_script);
        }
        auto sent = pipeline(Tail{next_script, {}, true});
        if (!sent.held) {
            return {sent.held, sent.held};
        }
        if (!sent.tail) {
            return {Result<void>{}, sent.tail.error()};
        }
        return {Result<void>{}, Result<void>{}};
    }

    void discard_deferred() override { deferred_.clear(); }

    /// A read transaction's BEGIN is held back and sent with its first statement: one round
    /// trip fewer, and nothing can differ (the snapshot is taken at the first statement either
    /// way; a failed BEGIN fails that statement). A write transaction's waits for the writer
    /// lock, whose timeout its caller must tell from its statements' errors: sent at once.
    Result<void> begin(TransactionMode mode) override {
        collect_commit();
        reading_ = mode == TransactionMode::read;
        if (mode == TransactionMode::read && !holding() &&
            PQtransactionStatus(conn_) == PQTRANS_IDLE) {
            begin_held_ = true;
            return {};
        }
        return run_plain(mode == TransactionMode::read ? begin_read : begin_write, "begin");
    }
    Result<void> commit() override {
        if (begin_held_ && deferred_.empty()) {
            begin_held_ = false; // nothing ran: there is no transaction to end
            return {};
        }
        if (holding()) {
            return execute_script("COMMIT");
        }
        if (std::exchange(reading_, false)) {
            send_commit();
            return {};
        }
        return run_plain("COMMIT", "commit");
    }
    void rollback() override {
        deferred_.clear();
        reading_ = false;
        if (std::exchange(begin_held_, false)) {
            return; // BEGIN never left: nothing to roll back
        }
        (void)run_plain("ROLLBACK", "rollback");
    }
    std::string_view dialect() const override { return "postgres"; }
    bool broken() const override { return stuck_ || PQstatus(conn_) != CONNECTION_OK; }
    /// Also true after a failed statement (INERROR): ROLLBACK TO a savepoint recovers from that.
    bool in_transaction() const override {
        if (begin_held_) {
            return true;
        }
        auto status = PQtransactionStatus(conn_);
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
    }

    Result<void> configure() { return run_plain(session_settings, "session settings"); }

private:
    Error failure(const PGresult* r, std::string_view what) {
        const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        std::string_view sqlstate = state ? state : "";
        bool bad = PQstatus(conn_) != CONNECTION_OK;
        if (bad) {
            // Prepared statements die with the session; a new connection prepares them anew.
            statements_.clear();
        }
        std::string detail = std::string(what) + ": ";
        detail += r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
        while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) {
            detail.pop_back();
        }
        if (!sqlstate.empty()) {
            detail += " (SQLSTATE ";
            detail += sqlstate;
            detail += ")";
        }
        switch (classify(sqlstate, bad)) {
        case ErrorCode::conflict:
            return make_error(ErrorCode::conflict, "conflict", detail);
        case ErrorCode::unavailable:
            return make_error(ErrorCode::unavailable, storage_unavailable_message, detail);
        default:
            return make_error(ErrorCode::internal, "storage error", detail);
        }
    }

    Result<void> run_plain(const std::string& sql, std::string_view what) {
        collect_commit();
        ResultPtr r(PQexec(conn_, sql.c_str()));
        auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            return failure(r.get(), what);
        }
        return {};
    }

    /// The name of `sql`'s prepared statement on this connection, preparing it the first time.
    Result<const std::string*> prepared(std::string_view sql) {
        std::string key(sql);
        if (auto found = statements_.find(key); found != statements_.end()) {
            return &found->second;
        }
        // Appended, not "s" + to_string(…): GCC 12 at -O3 misreads that operator+ (-Wrestrict).
        std::string name = "s";
        name += std::to_string(statements_.size() + 1);
        ResultPtr r(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
            return failure(r.get(), "prepare");
        }
        auto [it, _] = statements_.emplace(std::move(key), std::move(name));
        return &it->second;
    }

    /// Text parameters for libpq: the server types each from the statement (bigint, text, …).
    struct Bound {
        std::vector<std::string> integers;
        std::vector<const char*> values;
        std::vector<int> lengths;
        int count() const { return static_cast<int>(values.size()); }
    };
    static Result<Bound> bind(std::span<const Value> params) {
        Bound b{std::vector<std::string>(params.size()),
                std::vector<const char*>(params.size(), nullptr),
                std::vector<int>(params.size(), 0)};
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (const auto* n = std::get_if<std::int64_t>(&params[i])) {
                b.integers[i] = std::to_string(*n);
                b.values[i] = b.integers[i].c_str();
            } else if (const auto* s = std::get_if<std::string>(&params[i])) {
                if (s->find('\0') != std::string::npos) {
                    // libpq's text parameters end at a NUL: refuse rather than store less.
                    return make_error(ErrorCode::invalid_request, "text with a NUL character",
                                      bind_detail(i + 1) + " holds a NUL byte");
                }
                b.values[i] = s->c_str();
                b.lengths[i] = static_cast<int>(s->size());
            }
        }
        return b;
    }

    /// A statement ready to send: its name on this connection and its bound parameters.
    struct Ready {
        const std::string* name;
        Bound bound;
    };
    /// Prepares `sql` (once per connection) and binds `params`, before anything is sent.
    Result<Ready> ready(std::string_view sql, std::span<const Value> params) {
        ASSIGN_OR_RETURN(auto name, prepared(sql));
        ASSIGN_OR_RETURN(auto bound, bind(params));
        return Ready{name, std::move(bound)};
    }

    Result<ResultPtr> run(std::string_view sql, std::span<const Value> params) {
        collect_commit();
        if (holding()) {
            auto sent = pipeline(Tail{sql, params, false});
            if (!sent.held) {
                return sent.held.error();
            }
            return std::move(sent.tail);
        }
        ASSIGN_OR_RETURN(auto statement, ready(sql, params));
        const Bound& b = statement.bound;
        ResultPtr r(PQexecPrepared(conn_, statement.name->c_str(), b.count(), b.values.data(),
                                   b.lengths.data(), nullptr, 0));
        auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            return failure(r.get(), "statement");
        }
        return r;
    }

    /// What runs after the held-back statements, in the same round trip: a statement with its
    /// parameters, or (plain) statements separated by semicolons, without parameters.
    struct Tail {
        std::string_view sql;
        std::span<const Value> params;
        bool plain;
    };
    struct Pipelined {
        Result<void> held;      ///< the first failure among the held-back statements
        Result<ResultPtr> tail; ///< the tail's last result, or its first failure
    };

    /// A held-back BEGIN or held-back statements wait to be sent.
    bool holding() const { return begin_held_ || !deferred_.empty(); }

    /// A read transaction's COMMIT is sent and not waited for: its statements have answered,
    /// and a read-only transaction keeps nothing at its end, so nobody needs its answer. The
    /// server ends the transaction as soon as the message arrives; the connection's next use
    /// reads the answer first (collect_commit). A COMMIT that cannot be sent leaves the session
    /// unusable: the pool drops it, and the server ends the transaction with it.
    void send_commit() {
        if (PQenterPipelineMode(conn_) != 1) {
            (void)run_plain("COMMIT", "commit");
            return;
        }
        bool sent =
            PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
        if (!sent || PQpipelineSync(conn_) != 1) {
            stuck_ = true;
            return;
        }
        commit_owed_ = true;
    }

    /// Reads the answer to a COMMIT sent without waiting (above), before anything else is sent.
    void collect_commit() {
        if (!std::exchange(commit_owed_, false)) {
            return;
        }
        if (ResultPtr answer{PQgetResult(conn_)}) {
            while (ResultPtr end{PQgetResult(conn_)}) {
            }
        }
        ResultPtr sync(PQgetResult(conn_)); // PGRES_PIPELINE_SYNC
        stuck_ = stuck_ || PQexitPipelineMode(conn_) != 1;
    }

    /// Sends the held-back BEGIN and statements and `tail` as one libpq pipeline and reads every
    /// answer: one round trip. After a failure the server skips the rest (PGRES_PIPELINE_ABORTED)
    /// and the transaction is aborted, as after a failed statement outside a pipeline.
    Pipelined pipeline(const Tail& tail) {
        std::vector<Deferred> held = std::exchange(deferred_, {});
        std::vector<std::string> plain;
        if (begin_held_) {
            plain.emplace_back(begin_read);
        }
        Pipelined out{Result<void>{}, ResultPtr{}};
        std::vector<Ready> statements;
        for (const auto& statement : held) {
            auto r = ready(statement.sql, statement.params);
            if (!r) {
                out.held = r.error();
                out.tail = r.error();
                return out;
            }
            statements.push_back(std::move(*r));
        }
        std::size_t leading = plain.size(); // the BEGIN, sent before the statements
        if (tail.plain) {
            for (auto& statement : split_script(tail.sql)) {
                plain.push_back(std::move(statement));
            }
        } else if (auto r = ready(tail.sql, tail.params); r) {
            statements.push_back(std::move(*r));
        } else {
            out.tail = r.error(); // the held-back statements go with the failed transaction
            return out;
        }
        if (PQenterPipelineMode(conn_) != 1) {
            out.held = failure(nullptr, "pipeline");
            out.tail = out.held.error();
            return out;
        }
        // Until here nothing was sent: a held BEGIN stays held (rollback() then ends nothing).
        begin_held_ = false;
        int sent = send(statements, plain, leading);
        bool synced = PQpipelineSync(conn_) == 1;
        bool all_sent = sent == static_cast<int>(statements.size() + plain.size());
        read_answers(sent, static_cast<int>(leading + held.size()), out);
        if (synced) {
            ResultPtr sync(PQgetResult(conn_)); // PGRES_PIPELINE_SYNC
        }
        // Left in pipeline mode (an answer not read), the session could run nothing else: the
        // pool drops it as broken.
        stuck_ = PQexitPipelineMode(conn_) != 1;
        if (stuck_ || !all_sent || !synced || PQstatus(conn_) != CONNECTION_OK) {
            Error lost = failure(nullptr, "pipeline");
            if (out.held) {
                out.held = lost;
            }
            if (out.tail) {
                out.tail = lost;
            }
        }
        return out;
    }

    /// Queues the first `leading` plain statements, then `statements`, then the other plain
    /// ones, until one cannot be queued; how many were.
    int send(const std::vector<Ready>& statements, const std::vector<std::string>& plain,
             std::size_t leading) {
        int sent = 0;
        auto send_plain = [&](const std::string& statement) {
            return PQsendQueryParams(conn_, statement.c_str(), 0, nullptr, nullptr, nullptr,
                                     nullptr, 0) == 1;
        };
        for (std::size_t i = 0; i < leading; ++i) {
            if (!send_plain(plain[i])) {
                return sent;
            }
            ++sent;
        }
        for (const auto& statement : statements) {
            const Bound& b = statement.bound;
            if (PQsendQueryPrepared(conn_, statement.name->c_str(), b.count(), b.values.data(),
                                    b.lengths.data(), nullptr, 0) != 1) {
                return sent;
            }
            ++sent;
        }
        for (std::size_t i = leading; i < plain.size(); ++i) {
            if (!send_plain(plain[i])) {
                return sent;
            }
            ++sent;
        }
        return sent;
    }

    /// Reads one answer per statement sent (its result, then the NULL that ends it): the first
    /// `held` are the held-back statements', the rest the tail's.
    void read_answers(int sent, int held, Pipelined& out) {
        auto not_run = [] {
            return make_error(ErrorCode::unavailable, storage_unavailable_message,
                              "pipeline: not run, an earlier statement failed");
        };
        for (int i = 0; i < sent; ++i) {
            ResultPtr r(PQgetResult(conn_));
            if (!r) {
                return; // the connection is gone
            }
            while (ResultPtr end{PQgetResult(conn_)}) {
            }
            auto status = PQresultStatus(r.get());
            bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
            if (ok && i >= held && out.tail) {
                out.tail = std::move(r);
                continue;
            }
            if (ok) {
                continue;
            }
            Error error =
                status == PGRES_PIPELINE_ABORTED ? not_run() : failure(r.get(), "statement");
            if (i < held && out.held) {
                out.held = error;
            } else if (i >= held && out.tail) {
                out.tail = error;
            }
        }
    }

    /// "RELEASE unit; SAVEPOINT unit" → its statements (a pipeline takes one per command).
    static std::vector<std::string> split_script(std::string_view script) {
        std::vector<std::string> statements;
        while (!script.empty()) {
            auto end = script.find(';');
            auto piece = script.substr(0, end);
            while (!piece.empty() && piece.front() == ' ') {
                piece.remove_prefix(1);
            }
            if (!piece.empty()) {
                statements.emplace_back(piece);
            }
            if (end == std::string_view::npos) {
                break;
            }
            script.remove_prefix(end + 1);
        }
        return statements;
    }

    static Value column(PGresult* r, int row, int col) {
        if (PQgetisnull(r, row, col)) {
            return Null{};
        }
        std::string_view text(PQgetvalue(r, row, col),
                              static_cast<std::size_t>(PQgetlength(r, row, col)));
        switch (PQftype(r, col)) {
        case int8_oid:
        case int4_oid:
        case int2_oid:
        case numeric_oid: {
            std::int64_t n = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
            if (ec == std::errc() && end == text.data() + text.size()) {
                return n;
            }
            return std::string(text);
        }
        case bool_oid:
            return std::int64_t{text == "t" ? 1 : 0};
        default:
            return std::string(text);
        }
    }

    /// A statement held back by execute_deferred, with its parameters.
    struct Deferred {
        std::string sql;
        std::vector<Value> params;
    };

    PGconn* conn_;
    std::unordered_map<std::string, std::string> statements_;
    std::vector<Deferred> deferred_; ///< sent in order, with the next statement that waits
    bool begin_held_ = false;        ///< a read transaction's BEGIN, sent before deferred_
    bool reading_ = false;           ///< the open transaction is a read transaction
    bool commit_owed_ = false;       ///< a read's COMMIT was sent; its answer is still to read
    bool stuck_ = false;             ///< a pipeline could not be left: the session is unusable
};

} // namespace

bool is_postgres_url(std::string_view database) {
    return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

std::string redact_postgres_url(std::string_view url) {
    // scheme://user:password@host… → scheme://user:***@host…
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return std::string(url);
    }
    auto authority_start = scheme_end + 3;
    auto at = url.find('@', authority_start);
    auto slash = url.find('/', authority_start);
    if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
        return std::string(url);
    }
    auto colon = url.find(':', authority_start);
    if (colon == std::string_view::npos || colon > at) {
        return std::string(url);
    }
    std::string out(url.substr(0, colon + 1));
    out += "***";
    out += url.substr(at);
    return out;
}

Result<std::unique_ptr<Connection>> open_postgres(const std::string& url) {
    PGconn* conn = PQconnectdb(url.c_str());
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        std::string detail = conn ? PQerrorMessage(conn) : "out of memory";
        while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) {
            detail.pop_back();
        }
        PQfinish(conn);
        return make_error(
            ErrorCode::unavailable, "cannot connect to the database",
            std::string("connect ").append(redact_postgres_url(url)).append(": ").append(detail));
    }
    // libpq prints notices and warnings on stderr, where every line must be a JSON log line.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    auto connection = std::make_unique<PostgresConnection>(conn);
    if (auto ok = connection->configure(); !ok) {
        return ok.error();
    }
    return std::unique_ptr<Connection>(std::move(connection));
}

} // namespace provisiond::storage
