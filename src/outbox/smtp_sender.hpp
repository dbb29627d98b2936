#pragma once
// Delivers outbox messages over SMTP with libcurl: smtp:// (STARTTLS when offered, or required)
// or smtps:// (implicit TLS), optional authentication. docs/PAGES.md "Email".

#include "outbox/sender.hpp"

#include <string>

namespace provisiond::outbox {

struct SmtpSettings {
    std::string url;      ///< smtp://host:port or smtps://host:port
    std::string from;     ///< "Name <address>"
    std::string username; ///< empty: no authentication
    std::string password;
    bool require_tls = false; ///< smtp://: refuse to send when STARTTLS is not available
    std::string ca_file;      ///< trust only these CAs; empty: the system store
    long timeout_ms = 30000;
};

class SmtpSender final : public Sender {
public:
    explicit SmtpSender(SmtpSettings settings) : settings_(std::move(settings)) {}
    Result<void> deliver(const Email& email) override;

private:
    SmtpSettings settings_;
};

} // namespace provisiond::outbox
