#include "provisioning/account_requests.hpp"

#include "accounts/account_repository.hpp"
#include "accounts/email_address.hpp"
#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"
#include "oauth/authorization_codes.hpp"
#include "oauth/grant_repository.hpp"
#include "oauth/pkce.hpp"
#include "oauth/rate_limited_partner.hpp"
#include "oauth/scopes.hpp"
#include "oauth/token_formats.hpp"
#include "outbox/email.hpp"
#include "outbox/welcome_email.hpp"
#include "provisioning/provisioning_repository.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

namespace provisiond::provisioning {

namespace {

constexpr std::size_t max_request_id_length = 255;
constexpr std::string_view default_project_name = "Default project";

Error invalid_request(std::string message) {
    return make_error(ErrorCode::invalid_request, std::move(message));
}

std::string first_word(std::string_view name) {
    auto start = name.find_first_not_of(" \t");
    if (start == std::string_view::npos) {
        return "";
    }
    auto end = name.find_first_of(" \t", start);
    return std::string(name.substr(start, end == std::string_view::npos ? end : end - start));
}

} // namespace

struct AccountRequestService::Checked {
    oauth::OAuthClient client;
    std::string request_id;
    std::string email;
    std::string email_normalized;
    std::string name;
    std::string region;
    std::optional<std::string> organization_name;
    std::vector<std::string> scopes;
    std::string code_challenge;
    std::int64_t now = 0;
};

Result<AccountRequestAnswer> AccountRequestService::handle(const AccountRequest& request) {
    auto answer = handle_steps(request);
    std::string_view outcome = !answer ? wire_name(answer.error().code)
                               : answer->kind == AccountRequestAnswer::Kind::oauth ? "new"
                               : answer->kind == AccountRequestAnswer::Kind::requires_auth
                                   ? "requires_auth"
                                   : "registering";
    telemetry_->count("provisiond_account_requests_total", {{"outcome", outcome}});
    return answer;
}

Result<AccountRequestAnswer> AccountRequestService::handle_steps(const AccountRequest& request) {
    Checked checked;
    checked.now = clock_.now();

    // Partner identification first: nothing else is said to an unknown caller.
    if (!request.client_id || request.client_id->empty()) {
        return make_error(ErrorCode::unauthorized, "Authentication failed: client_id is required");
    }
    ASSIGN_OR_RETURN(auto partner,
                     partners_.find_partner(*request.client_id, request.remote_address));
    if (partner.kind == oauth::PartnerLookup::Kind::registering) {
        AccountRequestAnswer registering;
        registering.kind = AccountRequestAnswer::Kind::registering;
        registering.retry_after_seconds = partner.retry_after_seconds;
        return registering;
    }
    const oauth::OAuthClient* client = &partner.client;
    if (!client->is_active) {
        return oauth::unknown_client_error();
    }
    checked.client = *client;

    if (!request.email || request.email->empty()) {
        return invalid_request(
            "email is required: the address of the person to create an account for");
    }
    // One mailbox, one account: every Unicode form, case and domain spelling of an address has
    // one key (accounts/email_address.hpp); controls and invisible characters are refused.
    ASSIGN_OR_RETURN(auto email, accounts::parse_email(*request.email));
    checked.email = std::move(email.display);
    checked.email_normalized = std::move(email.key);
    if (!request.id || request.id->empty()) {
        return invalid_request(
            "id is required: your own unique id for this request (sending the same "
            "id again returns the same answer)");
    }
    if (request.id->size() > max_request_id_length) {
        return invalid_request("id must be at most 255 characters");
    }
    checked.request_id = *request.id;
    if (request.expires_at) {
        // Unparseable values are ignored, as PostHog's agentic surface does.
        if (auto at = parse_iso8601(*request.expires_at); at && *at < checked.now) {
            return make_error(ErrorCode::expired, "Account request has expired");
        }
    }
    if (!client->can_create_accounts) {
        return make_error(ErrorCode::forbidden, "Account creation is not enabled for this partner");
    }
    RETURN_IF_ERROR(limiter_.charge(oauth::rate_limited_partner(*client),
                                    ratelimit::Endpoint::account_requests));

    if (!request.code_challenge || request.code_challenge->empty()) {
        return invalid_request("code_challenge is required for public clients: send "
                               "BASE64URL(SHA256(code_verifier)) with code_challenge_method S256");
    }
    if (!oauth::is_valid_code_challenge(*request.code_challenge)) {
        return invalid_request("code_challenge must be 43-128 characters using base64url charset "
                               "[A-Za-z0-9-_]: BASE64URL(SHA256(code_verifier)), without padding");
    }
    if (request.code_challenge_method.value_or("") != "S256") {
        return invalid_request("Only S256 code_challenge_method is supported: send "
                               "code_challenge_method S256");
    }
    checked.code_challenge = *request.code_challenge;
    ASSIGN_OR_RETURN(checked.scopes,
                     oauth::resolve_requested_scopes(request.scopes, client->scopes));
    checked.name = request.name;
    checked.region = request.region;
    checked.organization_name = request.organization_name;

    // Two attempts: under PostgreSQL a concurrent request for the same new email can win the
    // unique constraint; the retry then sees the user and takes the existing-user path.
    for (int attempt = 0;; ++attempt) {
        AccountRequestAnswer answer;
        auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
            ASSIGN_OR_RETURN(answer, decide(r, checked));
            return {};
        });
        if (done) {
            return answer;
        }
        if (done.error().code == ErrorCode::conflict && attempt == 0) {
            continue;
        }
        if (done.error().code == ErrorCode::conflict || done.error().code == ErrorCode::internal) {
            Error e = make_error(ErrorCode::account_creation_failed, "Failed to create account");
            e.debug = done.error().debug;
            return e;
        }
        return done.error();
    }
}

/// A request id seen before, or a new account, or a known person's consent.
Result<AccountRequestAnswer> AccountRequestService::decide(Repositories& r,
                                                           const Checked& checked) {
    ASSIGN_OR_RETURN(auto retried, answer_retry(r, checked));
    if (retried) {
        return std::move(*retried);
    }
    ASSIGN_OR_RETURN(auto existing, r.accounts().find_user_by_email(checked.email_normalized));
    if (existing) {
        return ask_consent(r, checked, existing->id);
    }
    return create_account(r, checked);
}

/// The partner's id for this request was used before: the same request again (whose answer
/// was lost) gets a new code for the same account while the first one is fresh; a different
/// request under the same id is refused. Nothing when the id is new or the first answer can
/// no longer be repeated (the request is then decided again).
Result<std::optional<AccountRequestAnswer>>
AccountRequestService::answer_retry(Repositories& r, const Checked& checked) {
    ASSIGN_OR_RETURN(auto previous, r.provisioning().find_account_request(checked.client.client_id,
                                                                          checked.request_id));
    if (!previous) {
        return std::nullopt;
    }
    const AccountRequestRecord& record = *previous;
    if (record.email_normalized != checked.email_normalized ||
        record.code_challenge != checked.code_challenge) {
        return invalid_request("Request id " + checked.request_id +
                               " was already used for a different account request");
    }
    bool fresh = checked.now - record.created_at < config_.lifetimes.code_seconds;
    // A person the operator disabled gets no new code by a retry; they are asked for consent
    // like anyone who has an account, and cannot log in to give it.
    ASSIGN_OR_RETURN(auto person, r.accounts().find_user(record.user_id));
    bool enabled = person && !person->disabled_at;
    if (record.outcome != "oauth" || !fresh || !enabled || !record.code_hash ||
        !record.project_id || !record.organization_id) {
        return std::nullopt;
    }
    ASSIGN_OR_RETURN(auto code, r.grants().find_code(*record.code_hash));
    if (code && code->consumed_at) {
        return invalid_request("This account request was already completed; use a new request id");
    }
    RETURN_IF_ERROR(r.grants().delete_code(*record.code_hash));
    ASSIGN_OR_RETURN(
        auto minted,
        oauth::mint_code(r.grants(),
                         {checked.client.client_id, record.user_id, *record.organization_id,
                          *record.project_id, checked.scopes, checked.code_challenge, std::nullopt},
                         checked.now, config_.lifetimes.code_seconds));
    AccountRequestRecord updated = record;
    updated.code_hash = minted.code_hash;
    RETURN_IF_ERROR(r.provisioning().save_account_request(updated));
    return AccountRequestAnswer{AccountRequestAnswer::Kind::oauth, minted.code, ""};
}

Result<AccountRequestAnswer> AccountRequestService::create_account(Repositories& r,
                                                                   const Checked& checked) {
    const std::int64_t now = checked.now;
    accounts::User user;
    user.id = crypto::random_uuid();
    user.email = checked.email;
    user.email_normalized = checked.email_normalized;
    user.first_name = first_word(checked.name);
    user.name = checked.name;
    user.created_at = now;
    RETURN_IF_ERROR(r.accounts().insert_user(user));

    accounts::Organization org;
    org.id = crypto::random_uuid();
    org.name = checked.organization_name.value_or(checked.client.name + " (" + checked.email + ")");
    org.region = checked.region;
    org.created_at = now;
    RETURN_IF_ERROR(r.accounts().insert_organization(org));
    RETURN_IF_ERROR(r.accounts().insert_membership(org.id, user.id, accounts::Role::owner, now));
    ASSIGN_OR_RETURN(
        auto project,
        r.accounts().insert_project(org.id, default_project_name,
                                    oauth::mint_prefixed_secret(oauth::project_token_prefix), now));

    // The welcome email's single-use link is minted by the sender at delivery (outbox/), so the
    // raw token never touches the database.
    std::string host = config_.host_for_region(checked.region);
    outbox::WelcomeEmailInput mail;
    mail.user_id = user.id;
    mail.recipient = user.email;
    mail.first_name = user.first_name;
    mail.partner_name = checked.client.name;
    mail.organization_name = org.name;
    mail.set_password_url =
        host + "/account/set-password?token=" + std::string(outbox::set_password_token_placeholder);
    mail.dashboard_url = config_.dashboard_url_for_region(checked.region);
    mail.link_lifetime_hours = config_.lifetimes.password_link_seconds / 3600;
    RETURN_IF_ERROR(r.outbox().enqueue(outbox::compose_welcome_email(mail, config_, now)));
    RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::make_event(
        "account.created",
        {{"user", {{"id", user.id}, {"email", user.email}, {"name", user.name}}},
         {"organization", {{"id", org.id}, {"name", org.name}, {"region", org.region}}},
         {"project", {{"id", project.id}, {"name", project.name}}},
         {"partner", {{"client_id", checked.client.client_id}, {"name", checked.client.name}}}},
        now)));

    ASSIGN_OR_RETURN(auto minted,
                     oauth::mint_code(r.grants(),
                                      {checked.client.client_id, user.id, org.id, project.id,
                                       checked.scopes, checked.code_challenge, std::nullopt},
                                      now, config_.lifetimes.code_seconds));
    RETURN_IF_ERROR(r.provisioning().save_account_request(
        {checked.client.client_id, checked.request_id, checked.email_normalized,
         checked.code_challenge, "oauth", user.id, org.id, project.id, minted.code_hash, now}));
    return AccountRequestAnswer{AccountRequestAnswer::Kind::oauth, minted.code, ""};
}

Result<AccountRequestAnswer> AccountRequestService::ask_consent(Repositories& r,
                                                                const Checked& checked,
                                                                const std::string& user_id) {
    std::string state = crypto::random_urlsafe_token();
    PendingConsent consent;
    consent.state_hash = crypto::sha256_hex(state);
    consent.client_id = checked.client.client_id;
    consent.email_normalized = checked.email_normalized;
    consent.user_id = user_id;
    consent.scopes = checked.scopes;
    consent.region = checked.region;
    consent.code_challenge = checked.code_challenge;
    consent.code_challenge_method = "S256";
    consent.created_at = checked.now;
    consent.expires_at = checked.now + config_.lifetimes.consent_seconds;
    RETURN_IF_ERROR(r.provisioning().replace_pending_consent(consent));
    RETURN_IF_ERROR(r.provisioning().save_account_request(
        {checked.client.client_id, checked.request_id, checked.email_normalized,
         checked.code_challenge, "requires_auth", user_id, std::nullopt, std::nullopt, std::nullopt,
         checked.now}));
    return AccountRequestAnswer{AccountRequestAnswer::Kind::requires_auth, "",
                                config_.host_for_region(checked.region) +
                                    "/api/agentic/authorize?state=" + state};
}

} // namespace provisiond::provisioning
