#include "http/server.hpp"

#include "core/unicode.hpp"
#include "crypto/crypto.hpp"
#include "http/client_address.hpp"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace provisiond::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);

namespace {

/// One connection's state that the stopper may touch (always on the connection's strand).
struct Connection {
    beast::tcp_stream* stream = nullptr;
    bool idle = true; ///< waiting for the next request; safe to close on shutdown
    bool closed = false;
};

/// Lingering close after a refused body: how long and how much we keep discarding.
constexpr int kLingerSeconds = 2;
constexpr std::size_t kLingerMaxBytes = 4 * 1024 * 1024;

/// After a failed accept: how long to pause (out of descriptors or memory, retrying at once
/// would spin a core and flood the log), and how often to log a summary.
constexpr auto kAcceptPauseOnExhaustion = std::chrono::milliseconds(100);
constexpr auto kAcceptPauseOnError = std::chrono::milliseconds(10);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

bool is_resource_exhaustion(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
           ec == asio::error::no_memory || ec.value() == ENFILE;
}

/// RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no reliable
/// length; read on, its body would be taken for the next request (smuggling). Beast's own framing
/// decides, since that is what we will read by: a Transfer-Encoding header is refused unless
/// Beast frames the body as chunked (it does not for `chunked, chunked`, `chunked, identity`,
/// `xchunked`…), and whenever Content-Length comes with it (a proxy in front may pick either).
bool has_unframed_transfer_encoding(const bhttp::request_parser<bhttp::string_body>& parser) {
    const auto& header = parser.get();
    if (header.find(bhttp::field::transfer_encoding) == header.end()) {
        return false;
    }
    return !parser.chunked() || header.find(bhttp::field::content_length) != header.end();
}

} // namespace

struct Server::State {
    const Config& config;
    const Router& router;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<spdlog::logger> access;
    asio::io_context io;
    /// Handlers that may wait on storage run here, never on an I/O thread (Match::runs).
    asio::thread_pool handlers;
    tcp::acceptor acceptor{io};
    asio::signal_set signals{io, SIGINT, SIGTERM};
    std::atomic<bool> stopping{false};
    std::atomic<int> active{0};
    std::mutex connections_mutex;
    std::set<std::shared_ptr<Connection>> connections;
    std::map<std::string, int> connections_by_address; ///< under connections_mutex
    int open_connections = 0;                          ///< under connections_mutex
    TrustedProxies trusted_proxies;
    NullTelemetry no_telemetry;
    Telemetry* telemetry = &no_telemetry;
    ForwardedHeader forwarded_header = ForwardedHeader::x_forwarded_for;
    // Accept failures since the last summary line (only the accept loop touches these).
    std::uint64_t accept_failures = 0;
    std::chrono::steady_clock::time_point last_accept_log{};
    asio::steady_timer shutdown_timer{io};
    std::chrono::steady_clock::time_point shutdown_deadline;

    State(const Config& c, const Router& r, std::shared_ptr<spdlog::logger> l,
          std::shared_ptr<spdlog::logger> a)
        : config(c), router(r), log(std::move(l)), access(std::move(a)),
          handlers(static_cast<std::size_t>(std::max(1, c.threads))) {}

    /// The router's answer, computed where the route says it runs.
    awaitable<Response> answer(Request& request);

    awaitable<void> accept_loop();
    awaitable<void> pause_after_accept_failure(const boost::system::error_code& ec);
    bool admit(const std::string& address);
    void release(const std::string& address);
    void count_refusal(std::string_view reason);
    std::string client_of(const std::string& peer,
                          const bhttp::request_parser<bhttp::string_body>& parser) const;
    awaitable<void> serve(tcp::socket socket);
    static awaitable<void> linger_close(beast::tcp_stream& stream);
    void begin_stop();
    void wait_for_connections();
    void log_access(const Request& req, const Response& res, std::size_t bytes_in,
                    std::chrono::steady_clock::time_point started);
    Response transport_error(std::string_view path, ErrorCode code, std::string message) const;
};

Server::Server(const Config& config, const Router& router, std::shared_ptr<spdlog::logger> log,
               std::shared_ptr<spdlog::logger> access_log)
    : state_(std::make_unique<State>(config, router, std::move(log), std::move(access_log))) {}

Server::~Server() = default;

void Server::trust_proxies(ProxySettings proxies) {
    state_->trusted_proxies = std::move(proxies.trusted);
    state_->forwarded_header = proxies.header;
}

Result<void> Server::bind() {
    const std::string& listen = state_->config.listen;
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        return make_error(ErrorCode::invalid_request, "listen must be HOST:PORT, got " + listen);
    }
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
        return make_error(ErrorCode::invalid_request,
                          "listen host must be an IP address, got " + host);
    }
    int port = 0;
    try {
        port = std::stoi(listen.substr(colon + 1));
    } catch (...) {
        port = -1;
    }
    if (port < 0 || port > 65535) {
        return make_error(ErrorCode::invalid_request, "listen port must be 0-65535, got " + listen);
    }
    tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    auto& acceptor = state_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return make_error(ErrorCode::unavailable,
                          "cannot listen on " + listen + ": " + ec.message());
    }
    return {};
}

unsigned short Server::port() const {
    return state_->acceptor.local_endpoint().port();
}

void Server::stop() {
    asio::post(state_->io, [s = state_.get()] { s->begin_stop(); });
}

void Server::report_to(Telemetry& telemetry) {
    state_->telemetry = &telemetry;
    telemetry.set("provisiond_http_connections_open", 0); // present before the first connection
}

void Server::run() {
    State& s = *state_;
    s.signals.async_wait([&s](const boost::system::error_code& ec, int) {
        if (!ec) {
            s.log->info("signal received: finishing in-flight requests, then stopping");
            s.begin_stop();
        }
    });
    asio::co_spawn(s.io, s.accept_loop(), asio::detached);
    // I/O threads only read, write and hand requests over: one per core is enough.
    int io_threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 4);
    std::vector<std::thread> workers;
    for (int i = 1; i < io_threads; ++i) {
        workers.emplace_back([&s] { s.io.run(); });
    }
    s.io.run();
    for (auto& t : workers) {
        t.join();
    }
    s.handlers.join(); // handlers still running after the grace period finish first
}

awaitable<Response> Server::State::answer(Request& request) {
    auto found = router.resolve(request);
    if (found.runs() == Runs::on_io_thread) {
        co_return router.respond(found, request);
    }
    // Hop to the handler pool and back: the I/O thread serves other connections meanwhile.
    co_return co_await asio::co_spawn(
        handlers, [&]() -> awaitable<Response> { co_return router.respond(found, request); },
        use_awaitable);
}

void Server::State::begin_stop() {
    if (stopping.exchange(true)) {
        return;
    }
    boost::system::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    {
        std::lock_guard lock(connections_mutex);
        for (const auto& c : connections) {
            asio::post(c->stream->get_executor(), [c] {
                if (!c->closed && c->idle) {
                    c->stream->cancel();
                }
            });
        }
    }
    // Wait for in-flight requests, up to the grace period, then stop the loop.
    shutdown_deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(config.limits.shutdown_grace_seconds);
    wait_for_connections();
}

void Server::State::wait_for_connections() {
    if (active.load() == 0 || std::chrono::steady_clock::now() >= shutdown_deadline) {
        if (active.load() != 0) {
            log->warn("shutdown grace period over with {} connection(s) still open", active.load());
        }
        io.stop();
        return;
    }
    shutdown_timer.expires_after(std::chrono::milliseconds(20));
    shutdown_timer.async_wait([this](const boost::system::error_code&) { wait_for_connections(); });
}

awaitable<void> Server::State::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), as_tuple);
        if (ec) {
            if (stopping.load()) {
                co_return;
            }
            co_await pause_after_accept_failure(ec);
            continue;
        }
        boost::system::error_code peer_ec;
        auto peer = socket.remote_endpoint(peer_ec);
        std::string address = peer_ec ? "" : canonical_ip(peer.address().to_string());
        // Over a connection limit: refuse rather than queue.
        bool under_total = active.load() < config.limits.max_connections;
        if (!under_total || !admit(address)) {
            boost::system::error_code ignored;
            socket.close(ignored);
            count_refusal(under_total ? "per_address" : "max_connections");
            continue;
        }
        ++active;
        auto executor = socket.get_executor();
        asio::co_spawn(executor, serve(std::move(socket)), [this, address](std::exception_ptr e) {
            release(address);
            --active;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log->error("connection ended by exception: {}", ex.what());
                }
            }
        });
    }
}

awaitable<void> Server::State::pause_after_accept_failure(const boost::system::error_code& ec) {
    ++accept_failures;
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_log >= kAcceptLogInterval) {
        log->warn("accept failed {} time(s) since the last report, last: {}; pausing accepts{}",
                  accept_failures, ec.message(),
                  is_resource_exhaustion(ec)
                      ? " (out of descriptors or memory: lower --max-connections or raise the "
                        "descriptor limit)"
                      : "");
        accept_failures = 0;
        last_accept_log = now;
    }
    asio::steady_timer pause(io, is_resource_exhaustion(ec) ? kAcceptPauseOnExhaustion
                                                            : kAcceptPauseOnError);
    co_await pause.async_wait(as_tuple);
}

bool Server::State::admit(const std::string& address) {
    int cap = config.limits.max_connections_per_address;
    boost::system::error_code ec;
    auto parsed = asio::ip::make_address(address, ec);
    bool proxy = !ec && trusted_proxies.contains(parsed); // a proxy carries everyone's connections
    std::lock_guard lock(connections_mutex);
    auto [it, inserted] = connections_by_address.try_emplace(limit_key(address), 0);
    if (cap > 0 && !proxy && it->second >= cap) {
        return false;
    }
    ++it->second;
    // Set under the lock, so the gauge ends at the last count rather than a racing thread's.
    telemetry->set("provisiond_http_connections_open", ++open_connections);
    return true;
}

void Server::State::count_refusal(std::string_view reason) {
    telemetry->count("provisiond_http_connections_refused_total", {{"reason", reason}});
}

void Server::State::release(const std::string& address) {
    std::lock_guard lock(connections_mutex);
    auto it = connections_by_address.find(limit_key(address));
    if (it == connections_by_address.end()) {
        return;
    }
    if (--it->second <= 0) {
        connections_by_address.erase(it);
    }
    telemetry->set("provisiond_http_connections_open", --open_connections);
}

std::string
Server::State::client_of(const std::string& peer,
                         const bhttp::request_parser<bhttp::string_body>& parser) const {
    if (trusted_proxies.empty()) {
        return peer;
    }
    std::vector<std::string_view> values;
    // Beast has no enumerator for X-Forwarded-For: look headers up by name.
    std::string_view name =
        forwarded_header == ForwardedHeader::forwarded ? "Forwarded" : "X-Forwarded-For";
    auto range = parser.get().equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
        values.push_back(it->value());
    }
    return client_address(peer, values, forwarded_header, trusted_proxies);
}

Response Server::State::transport_error(std::string_view path, ErrorCode code,
                                        std::string message) const {
    return error_response(router.envelope_for(path), make_error(code, std::move(message)));
}

awaitable<void> Server::State::serve(tcp::socket socket) {
    std::string remote;
    {
        boost::system::error_code ec;
        auto ep = socket.remote_endpoint(ec);
        remote = ec ? "" : canonical_ip(ep.address().to_string());
    }
    beast::tcp_stream stream(std::move(socket));
    auto connection = std::make_shared<Connection>();
    connection->stream = &stream;
    {
        std::lock_guard lock(connections_mutex);
        connections.insert(connection);
    }
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
        if (stopping.load()) {
            break;
        }
        connection->idle = true;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(config.limits.max_header_bytes));
        parser.body_limit(config.limits.max_body_bytes);
        stream.expires_after(std::chrono::seconds(first ? config.limits.request_timeout_seconds
                                                        : config.limits.idle_timeout_seconds));
        auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, as_tuple);
        connection->idle = false;
        auto started = std::chrono::steady_clock::now();
        first = false;
        Request request;
        request.remote_address = remote;
        request.request_id = crypto::random_uuid();
        std::optional<Response> early; // an answer given without reading the body
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                early =
                    transport_error("", ErrorCode::invalid_request, "Request headers too large");
                early->status = 431;
            } else if (ec == bhttp::error::body_limit) {
                // Beast rejects a declared Content-Length over the limit as soon as the header
                // is complete: answer 413 in the route's envelope without reading the body.
                std::string target(parser.get().target());
                request.path = target.substr(0, target.find('?'));
                early =
                    transport_error(request.path, ErrorCode::payload_too_large,
                                    "Request body too large: at most " +
                                        std::to_string(config.limits.max_body_bytes) + " bytes");
            } else if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
                       ec == beast::error::timeout || ec == asio::error::connection_reset ||
                       ec == asio::error::eof || buffer.size() == 0) {
                break;
            } else {
                early = transport_error("", ErrorCode::invalid_request, "Malformed HTTP request");
            }
        }
        if (!ec) {
            auto& header = parser.get();
            std::string target(header.target());
            auto q = target.find('?');
            request.path = target.substr(0, q);
            request.query = q == std::string::npos ? "" : target.substr(q + 1);
            request.remote_address = client_of(remote, parser);
            if (has_unframed_transfer_encoding(parser)) {
                early = transport_error(request.path, ErrorCode::invalid_request,
                                        "Transfer-Encoding must end with chunked, and "
                                        "without Content-Length (RFC 9112 section 6.3)");
            } else if (auto length = parser.content_length();
                       length && *length > config.limits.max_body_bytes) {
                early =
                    transport_error(request.path, ErrorCode::payload_too_large,
                                    "Request body too large: at most " +
                                        std::to_string(config.limits.max_body_bytes) + " bytes");
            } else {
                stream.expires_after(std::chrono::seconds(config.limits.request_timeout_seconds));
                auto [read_ec, read_n] =
                    co_await bhttp::async_read(stream, buffer, parser, as_tuple);
                if (read_ec == bhttp::error::body_limit) {
                    early = transport_error(request.path, ErrorCode::payload_too_large,
                                            "Request body too large: at most " +
                                                std::to_string(config.limits.max_body_bytes) +
                                                " bytes");
                } else if (read_ec &&
                           read_ec.category() ==
                               bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
                           read_ec != bhttp::error::partial_message &&
                           read_ec != bhttp::error::end_of_stream) {
                    // A malformed body (a chunk size that is negative, not hex, past 2^64…):
                    // say so, then close, rather than drop the connection without a word.
                    early = transport_error(request.path, ErrorCode::invalid_request,
                                            "Malformed HTTP request body: " + read_ec.message());
                } else if (read_ec) {
                    break;
                }
            }
        }
        Response response;
        bool keep_alive = false;
        std::size_t bytes_in = 0;
        if (early) {
            response = std::move(*early); // the body was not read: the connection must close
            request.method = ec && ec != bhttp::error::body_limit
                                 ? "-"
                                 : std::string(parser.get().method_string());
        } else {
            auto message = parser.release();
            request.method = std::string(message.method_string());
            for (const auto& field : message) {
                std::string name(field.name_string());
                for (auto& c : name) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                request.headers.emplace_back(std::move(name), std::string(field.value()));
            }
            request.body = std::move(message.body());
            bytes_in = request.body.size();
            keep_alive = message.keep_alive();
            response = co_await answer(request);
        }
        if (stopping.load()) {
            keep_alive = false;
        }
        bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), 11};
        out.set(bhttp::field::server, "provisiond");
        out.set(bhttp::field::content_type, response.content_type);
        out.set("X-Request-Id", request.request_id);
        out.set("X-Content-Type-Options", "nosniff");
        for (const auto& [name, value] : response.headers) {
            out.set(name, value);
        }
        out.body() = request.method == "HEAD" ? std::string() : response.body;
        out.keep_alive(keep_alive);
        out.prepare_payload();
        if (request.method == "HEAD") {
            out.content_length(response.body.size());
        }
        log_access(request, response, bytes_in, started);
        stream.expires_after(std::chrono::seconds(config.limits.request_timeout_seconds));
        auto [write_ec, written] = co_await bhttp::async_write(stream, out, as_tuple);
        if (!write_ec && early) {
            co_await linger_close(stream);
        }
        if (write_ec || !keep_alive) {
            break;
        }
    }
    connection->closed = true;
    {
        std::lock_guard lock(connections_mutex);
        connections.erase(connection);
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

awaitable<void> Server::State::linger_close(beast::tcp_stream& stream) {
    // The client may still be sending the body we refused to read. Closing a socket with
    // unread data makes the kernel send RST, and a client that is still writing then loses
    // our 413 before it reads it. So, like nginx's lingering close: stop sending, then read
    // and discard for a bounded time and size until the client closes its side.
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(kLingerSeconds));
    std::array<char, 16 * 1024> sink;
    std::size_t discarded = 0;
    while (discarded < kLingerMaxBytes) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), as_tuple);
        if (ec) {
            break;
        }
        discarded += n;
    }
}

void Server::State::log_access(const Request& req, const Response& res, std::size_t bytes_in,
                               std::chrono::steady_clock::time_point started) {
    using namespace std::chrono;
    double ms = duration_cast<microseconds>(steady_clock::now() - started).count() / 1000.0;
    // Labels from fixed sets only: the route pattern (not the path), the method the router
    // knows, the status.
    std::string_view route = req.route.empty() ? std::string_view("unmatched") : req.route;
    bool known_method = req.method == "GET" || req.method == "POST" || req.method == "HEAD";
    std::string status = std::to_string(res.status);
    telemetry->count("provisiond_http_requests_total",
                     {{"route", route},
                      {"method", known_method ? std::string_view(req.method) : "other"},
                      {"status", status}});
    telemetry->observe("provisiond_http_request_duration_seconds", ms / 1000.0, {{"route", route}});
    // Only the path: query strings carry consent states and link tokens. Never headers or bodies.
    boost::json::object line{{"request_id", req.request_id},
                             {"remote", req.remote_address},
                             {"method", req.method},
                             {"route", req.route},
                             {"path", truncate_utf8(req.path, 512)},
                             {"status", res.status},
                             {"duration_ms", ms},
                             {"bytes_in", bytes_in},
                             {"bytes_out", res.body.size()}};
    if (!res.client_id.empty()) {
        line["client_id"] = truncate_utf8(res.client_id, 512);
    }
    if (!res.error_code.empty()) {
        line["error"] = res.error_code;
    }
    if (res.status >= 500 && !res.debug.empty()) {
        // The detail behind a 5xx, for the operator; error texts never carry secrets.
        line["error_detail"] = truncate_utf8(res.debug, 1000);
    }
    if (auto ua = req.header("user-agent")) {
        line["user_agent"] = truncate_utf8(*ua, 200);
    }
    access->info(boost::json::serialize(line));
}

} // namespace provisiond::http
