#include "app/logging.hpp"

#include <boost/json.hpp>
#include <spdlog/async_logger.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>

namespace provisiond::app {
namespace {

/// "2026-11-30T17:03:25.252Z"
std::string iso_time(spdlog::log_clock::time_point when) {
    using namespace std::chrono;
    auto since = when.time_since_epoch();
    std::time_t seconds = duration_cast<std::chrono::seconds>(since).count();
    auto millis = duration_cast<milliseconds>(since).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    // Room for every int at its widest: GCC's -Wformat-truncation (-O3, the release build)
    // counts them so, and -Werror makes a smaller buffer a build failure.
    char buffer[80];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    return buffer;
}

std::string level_name(spdlog::level::level_enum level) {
    auto name = spdlog::level::to_string_view(level);
    return std::string(name.data(), name.size());
}

void append_line(spdlog::memory_buf_t& dest, const std::string& text) {
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
}

/// One JSON object per line. The access log's message is already a serialized JSON object of
/// the request (http/server.cpp): its members are spliced in after this log's own, unparsed, so
/// both logs share one schema and a request's line is serialized once.
class JsonFormatter final : public spdlog::formatter {
public:
    explicit JsonFormatter(std::string log) : log_(std::move(log)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view text(msg.payload.data(), msg.payload.size());
        boost::json::object line{
            {"time", iso_time(msg.time)}, {"level", level_name(msg.level)}, {"log", log_}};
        bool request =
            log_ == "access" && text.size() > 2 && text.front() == '{' && text.back() == '}';
        line["message"] = request ? std::string_view("request") : text;
        std::string head = boost::json::serialize(line);
        if (request) {
            head.back() = ','; // `{…,"message":"request"` + `,` + the request's members + `}`
            head.append(text.substr(1));
        }
        append_line(dest, head);
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>(log_);
    }

private:
    std::string log_;
};

/// A line for a terminal: time, level, then the message; a request as "METHOD path status ms".
class TextFormatter final : public spdlog::formatter {
public:
    explicit TextFormatter(bool access) : access_(access) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view text(msg.payload.data(), msg.payload.size());
        std::string line = iso_time(msg.time) + " " + level_name(msg.level) + " ";
        boost::system::error_code ec;
        auto fields = access_ ? boost::json::parse(text, ec) : boost::json::value();
        if (access_ && !ec && fields.is_object()) {
            const auto& f = fields.as_object();
            auto text_of = [&](const char* key) {
                auto* v = f.if_contains(key);
                return !v               ? std::string()
                       : v->is_string() ? std::string(v->as_string())
                                        : boost::json::serialize(*v);
            };
            char ms[32] = "";
            if (auto* d = f.if_contains("duration_ms"); d && d->is_number()) {
                std::snprintf(ms, sizeof ms, "%.1fms", d->to_number<double>());
            }
            line += text_of("method") + " " + text_of("path") + " " + text_of("status") + " " + ms +
                    " " + text_of("remote") + " " + text_of("request_id");
            for (const char* key : {"client_id", "error", "error_detail"}) {
                if (f.contains(key)) {
                    line += std::string(" ") + key + "=" + text_of(key);
                }
            }
        } else {
            line.append(text);
        }
        append_line(dest, line);
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<TextFormatter>(access_);
    }

private:
    bool access_;
};

} // namespace

Loggers make_loggers(const std::string& level, const std::string& format) {
    // One sink each: a formatter is set on a logger's sinks.
    auto app = std::make_shared<spdlog::logger>("provisiond",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    // A full queue makes the request wait (block) rather than drop a line: the access log is
    // the operator's record of every request.
    constexpr std::size_t queued_lines = 8192;
    auto writer = std::make_shared<spdlog::details::thread_pool>(queued_lines, 1);
    auto access = std::make_shared<spdlog::async_logger>(
        "access", std::make_shared<spdlog::sinks::stderr_sink_mt>(), writer,
        spdlog::async_overflow_policy::block);
    if (format == "text") {
        app->set_formatter(std::make_unique<TextFormatter>(false));
        access->set_formatter(std::make_unique<TextFormatter>(true));
    } else {
        app->set_formatter(std::make_unique<JsonFormatter>("app"));
        access->set_formatter(std::make_unique<JsonFormatter>("access"));
    }
    app->set_level(spdlog::level::from_str(level));
    access->set_level(spdlog::level::info);
    return {writer, app, access};
}

} // namespace provisiond::app
