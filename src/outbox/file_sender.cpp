#include "outbox/file_sender.hpp"

#include "accounts/welcome_email.hpp"
#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace provisiond::outbox {
namespace {

constexpr int batch_size = 50;
constexpr std::int64_t max_backoff_seconds = 3600;
constexpr auto poll_interval = std::chrono::milliseconds(500);

/// Header values never carry line breaks (no header injection).
std::string header_safe(std::string_view value) {
    std::string out;
    for (char c : value) {
        out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    }
    return out;
}

} // namespace

Result<void> FileSender::deliver(const Email& email) {
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "outbox directory unavailable",
                          directory_ + ": " + ec.message());
    }
    std::string name = std::to_string(email.created_at) + "-" + email.id + ".eml";
    auto final_path = std::filesystem::path(directory_) / name;
    auto temp_path = std::filesystem::path(directory_) / ("." + name + ".tmp");
    {
        std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
        out << "From: " << header_safe(from_) << "\r\n"
            << "To: " << header_safe(email.recipient) << "\r\n"
            << "Subject: " << header_safe(email.subject) << "\r\n"
            << "Date: " << format_iso8601(email.created_at) << "\r\n"
            << "Message-ID: <" << email.id << "@provisiond>\r\n"
            << "MIME-Version: 1.0\r\n"
            << "Content-Type: text/plain; charset=utf-8\r\n"
            << "Content-Transfer-Encoding: 8bit\r\n"
            << "X-Provisiond-Kind: " << email.kind << "\r\n\r\n";
        for (char c : email.body_text) {
            if (c == '\n') {
                out << "\r\n";
            } else {
                out << c;
            }
        }
        out.flush();
        if (!out) {
            return make_error(ErrorCode::unavailable, "cannot write the outbox file", temp_path.string());
        }
    }
    std::filesystem::rename(temp_path, final_path, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "cannot write the outbox file", ec.message());
    }
    return {};
}

OutboxWorker::OutboxWorker(storage::UnitOfWork& uow, const Clock& clock, Sender& sender,
                           std::shared_ptr<spdlog::logger> log, std::int64_t link_lifetime_seconds)
    : uow_(uow), clock_(clock), sender_(sender), log_(std::move(log)),
      link_lifetime_seconds_(link_lifetime_seconds) {}

Result<Email> OutboxWorker::render(const Email& queued) {
    auto at = queued.body_text.find(accounts::set_password_token_placeholder);
    if (at == std::string::npos || !queued.user_id) {
        return queued;
    }
    std::string token = crypto::random_urlsafe_token();
    std::int64_t now = clock_.now();
    RETURN_IF_ERROR(uow_.run(storage::TransactionMode::write, [&](storage::Repositories& r) {
        return r.accounts().replace_password_set_token(crypto::sha256_hex(token), *queued.user_id, now,
                                                       now + link_lifetime_seconds_);
    }));
    Email rendered = queued;
    rendered.body_text.replace(at, accounts::set_password_token_placeholder.size(), token);
    return rendered;
}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            int delivered = deliver_due();
            lock.lock();
            if (delivered == batch_size) {
                continue; // a full batch: there is likely more due, keep draining
            }
            wake_.wait_for(lock, poll_interval, [this] { return stopping_; });
        }
    });
}

void OutboxWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

int OutboxWorker::deliver_due() {
    std::vector<Email> due;
    auto read = uow_.run(storage::TransactionMode::read, [&](storage::Repositories& r) -> Result<void> {
        auto found = r.outbox().due(clock_.now(), batch_size);
        if (!found) {
            return found.error();
        }
        due = std::move(*found);
        return {};
    });
    if (!read) {
        log_->warn("outbox: cannot read due messages: {}", read.error().debug);
        return 0;
    }
    int delivered = 0;
    for (const auto& email : due) {
        auto rendered = render(email);
        auto sent = rendered ? sender_.deliver(*rendered) : Result<void>(rendered.error());
        std::int64_t now = clock_.now();
        auto recorded = uow_.run(storage::TransactionMode::write, [&](storage::Repositories& r) -> Result<void> {
            if (sent) {
                return r.outbox().mark_delivered(email.id, now);
            }
            std::int64_t backoff = std::min<std::int64_t>(max_backoff_seconds, 10LL << std::min<std::int64_t>(email.attempts, 10));
            return r.outbox().mark_failed(email.id, sent.error().message, now + backoff);
        });
        if (sent) {
            ++delivered;
            log_->info("outbox: delivered {} message {}", email.kind, email.id);
        } else {
            log_->warn("outbox: delivery of {} failed (attempt {}): {}", email.id, email.attempts + 1,
                       sent.error().message);
        }
        if (!recorded) {
            log_->warn("outbox: cannot record delivery of {}: {}", email.id, recorded.error().debug);
        }
    }
    return delivered;
}

} // namespace provisiond::outbox
