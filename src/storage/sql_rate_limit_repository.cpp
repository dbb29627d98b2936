#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

class SqlRateLimitRepository final : public ratelimit::RateLimitRepository {
public:
    explicit SqlRateLimitRepository(Connection& c) : c_(c) {}

    Result<std::int64_t> increment(std::string_view bucket, std::int64_t window_start) override {
        ASSIGN_OR_RETURN(
            auto rows, query(c_,
                             "INSERT INTO rate_limit_counters (bucket, window_start, count) "
                             "VALUES ($1, $2, 1) ON CONFLICT (bucket, window_start) "
                             "DO UPDATE SET count = rate_limit_counters.count + 1 RETURNING count",
                             {std::string(bucket), window_start}));
        return rows.at(0).integer(0);
    }

    Result<void> decrement(std::string_view bucket, std::int64_t window_start) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "UPDATE rate_limit_counters SET count = count - 1 WHERE bucket = $1 "
                    "AND window_start = $2 AND count > 0",
                    {std::string(bucket), window_start}));
        RETURN_IF_ERROR(execute(c_,
                                "DELETE FROM rate_limit_counters WHERE bucket = $1 AND "
                                "window_start = $2 AND count <= 0",
                                {std::string(bucket), window_start}));
        return {};
    }

    Result<std::int64_t> current(std::string_view bucket, std::int64_t window_start) override {
        ASSIGN_OR_RETURN(auto rows,
                         query(c_,
                               "SELECT count FROM rate_limit_counters WHERE bucket = $1 AND "
                               "window_start = $2",
                               {std::string(bucket), window_start}));
        return rows.empty() ? 0 : rows.at(0).integer(0);
    }

    Result<void> purge_before(std::int64_t window_start) override {
        RETURN_IF_ERROR(
            execute(c_, "DELETE FROM rate_limit_counters WHERE window_start < $1", {window_start}));
        return {};
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<ratelimit::RateLimitRepository> make_sql_rate_limit_repository(Connection& c) {
    return std::make_unique<SqlRateLimitRepository>(c);
}

} // namespace provisiond::storage
