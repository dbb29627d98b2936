#include "outbox/smtp_sender.hpp"

#include "outbox/message_format.hpp"

#include <curl/curl.h>

#include <cstring>
#include <memory>

namespace provisiond::outbox {
namespace {

struct Upload {
    std::string data;
    std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* upload = static_cast<Upload*>(user);
    std::size_t n = std::min(size * count, upload->data.size() - upload->offset);
    std::memcpy(buffer, upload->data.data() + upload->offset, n);
    upload->offset += n;
    return n;
}

} // namespace

Result<void> SmtpSender::deliver(const Email& email) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        return make_error(ErrorCode::unavailable, "cannot start an SMTP client");
    }
    CURL* h = curl.get();
    Upload upload{format_message(settings_.from, email), 0};
    std::string from = envelope_path(settings_.from);
    std::string to = envelope_path(email.recipient);
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> recipients(
        curl_slist_append(nullptr, to.c_str()), curl_slist_free_all);
    curl_easy_setopt(h, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload.data.size()));
    curl_easy_setopt(h, CURLOPT_USE_SSL, settings_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, settings_.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (!settings_.ca_file.empty()) {
        curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str());
    }
    if (!settings_.username.empty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, settings_.username.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, settings_.password.c_str());
    }
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        // Never the password: libcurl's messages name the step and the server's reply.
        std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
        return make_error(ErrorCode::unavailable, "SMTP delivery failed: " + detail);
    }
    return {};
}

} // namespace provisiond::outbox
