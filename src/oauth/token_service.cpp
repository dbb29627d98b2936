#include "oauth/token_service.hpp"

#include "accounts/account_repository.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "crypto/crypto.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"
#include "oauth/pkce.hpp"
#include "oauth/rate_limited_partner.hpp"
#include "oauth/scopes.hpp"
#include "oauth/token_formats.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

#include <algorithm>

namespace provisiond::oauth {
namespace {

Error invalid_grant(std::string message) {
    return make_error(ErrorCode::invalid_grant, std::move(message));
}

/// A fresh access + refresh pair: the raw values for the answer and the rows to store.
struct MintedPair {
    IssuedTokens issued;
    AccessToken access;
    RefreshToken refresh;
};

/// Draws and hashes a pair for `family_id` before the write transaction, so that the work
/// under the write lock (one writer at a time) is only the statements.
MintedPair mint_pair(std::string_view family_id, const std::optional<std::string>& parent_hash,
                     const Lifetimes& lifetimes, std::int64_t now) {
    MintedPair pair;
    pair.issued.access_token = mint_prefixed_secret(access_token_prefix);
    pair.issued.refresh_token = mint_prefixed_secret(refresh_token_prefix);
    pair.issued.expires_in = lifetimes.access_token_seconds;
    pair.access = AccessToken{crypto::sha256_hex(pair.issued.access_token), std::string(family_id),
                              now, now + lifetimes.access_token_seconds, std::nullopt};
    pair.refresh.token_hash = crypto::sha256_hex(pair.issued.refresh_token);
    pair.refresh.family_id = family_id;
    pair.refresh.parent_hash = parent_hash;
    pair.refresh.access_token_hash = pair.access.token_hash;
    pair.refresh.created_at = now;
    pair.refresh.expires_at = now + lifetimes.refresh_token_seconds;
    return pair;
}

/// Stores a minted pair; the answer's values once it is in the transaction.
Result<IssuedTokens> store_pair(GrantRepository& grants, const MintedPair& pair,
                                std::vector<std::string> scopes) {
    RETURN_IF_ERROR(grants.insert_access_token(pair.access));
    RETURN_IF_ERROR(grants.insert_refresh_token(pair.refresh));
    IssuedTokens issued = pair.issued;
    issued.scopes = std::move(scopes);
    return issued;
}

/// What a refresh's write unit decided: the pair to answer with, or why not. Refusals are
/// answers, not failures: the unit commits what it did (a revoked family stays revoked).
struct RotationOutcome {
    IssuedTokens issued;
    std::optional<Error> refused;
    bool family_reused = false; ///< the refusal revoked the family (counted once committed)
};

RotationOutcome refusal(std::string message) {
    return RotationOutcome{{}, invalid_grant(std::move(message)), false};
}

/// A presented refresh token that did not rotate: revoked since it was read (refused), or
/// rotated before: one retry inside the grace window gets `pair` (the first answer was lost),
/// any other reuse revokes the family.
Result<RotationOutcome> answer_spent_refresh(Repositories& r, const Lifetimes& lifetimes,
                                             const std::string& presented_hash,
                                             const MintedPair& pair,
                                             const std::vector<std::string>& scopes,
                                             std::int64_t now) {
    auto& grants = r.grants();
    ASSIGN_OR_RETURN(auto token, grants.find_refresh_token(presented_hash));
    if (!token || token->revoked_at || !token->rotated_at) {
        // Revoked (or its family revoked) since the read; or gone.
        return refusal("Invalid or revoked refresh token");
    }
    const RefreshToken& current = *token;
    ASSIGN_OR_RETURN(auto fam, grants.find_family(current.family_id));
    if (!fam || fam->revoked_at) {
        return refusal("Invalid or revoked refresh token");
    }
    const TokenFamily& live = *fam;
    ASSIGN_OR_RETURN(auto child, grants.find_newest_child(presented_hash));
    bool child_unused = child && !child->rotated_at && !child->revoked_at;
    // 0 turns the grace off: any reuse, even within the same second, is a reuse.
    bool in_grace = lifetimes.refresh_grace_seconds > 0 &&
                    now - *current.rotated_at <= lifetimes.refresh_grace_seconds;
    if (in_grace && child_unused && !current.grace_used) {
        ASSIGN_OR_RETURN(bool spent, grants.spend_grace(presented_hash));
        if (spent) {
            // The first response was lost: replace the pair the client never saw.
            RETURN_IF_ERROR(grants.revoke_refresh_token(child->token_hash, now));
            RotationOutcome replaced;
            ASSIGN_OR_RETURN(replaced.issued, store_pair(grants, pair, scopes));
            return replaced;
        }
    }
    RETURN_IF_ERROR(grants.revoke_family(live.id, "refresh_token_reused", now));
    RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::grant_revoked(
        live.client_id, live.user_id, live.id, webhooks::revoke_reason::family_reuse, now)));
    RETURN_IF_ERROR(r.audit().record(
        audit::make_audit("family.revoked", {"partner", live.user_id, live.client_id, ""},
                          {{"family_id", live.id}, {"reason", "refresh_token_reused"}}, now)));
    RotationOutcome reused =
        refusal("Refresh token was already used; the token family has been revoked");
    reused.family_reused = true;
    return reused;
}

} // namespace

Result<IssuedTokens> TokenService::counted(std::string_view grant_type,
                                           Result<IssuedTokens> answer) {
    telemetry_->count(
        "provisiond_token_grants_total",
        {{"grant_type", grant_type},
         {"outcome", answer ? std::string_view("issued") : wire_name(answer.error().code)}});
    return answer;
}

Result<void> TokenService::record_replay(Repositories& r, const AuthorizationCode& code,
                                         const std::string& family_id, std::int64_t now) {
    audit::AuditSubject subject{"partner", code.user_id, code.client_id, ""};
    RETURN_IF_ERROR(r.audit().record(
        audit::make_audit("code.replayed", subject, {{"family_id", family_id}}, now)));
    return r.audit().record(audit::make_audit(
        "family.revoked", subject, {{"family_id", family_id}, {"reason", "code_replayed"}}, now));
}

Result<IssuedTokens> TokenService::exchange_code(const CodeExchange& request) {
    return counted("authorization_code", exchange_code_steps(request));
}

Result<IssuedTokens> TokenService::refresh(const RefreshRequest& request) {
    return counted("refresh_token", refresh_steps(request));
}

Result<IssuedTokens> TokenService::exchange_code_steps(const CodeExchange& request) {
    if (!request.code || request.code->empty()) {
        return make_error(ErrorCode::invalid_request,
                          "code is required: the authorization code from account_requests "
                          "(oauth.code) or from the consent redirect");
    }
    const std::string code_hash = crypto::sha256_hex(*request.code);
    const std::int64_t now = clock_.now();

    // 1. Find the code and run every check that must not spend it.
    std::optional<AuthorizationCode> code;
    std::optional<OAuthClient> client;
    bool user_found = false;
    std::vector<accounts::TeamSummary> teams;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(code, r.grants().find_code(code_hash));
        if (!code) {
            return {};
        }
        ASSIGN_OR_RETURN(client, r.clients().find(code->client_id));
        if (code->consumed_at) {
            return {};
        }
        // What the answer says about the account, read here rather than under the write lock.
        ASSIGN_OR_RETURN(auto user, r.accounts().find_user(code->user_id));
        user_found = user.has_value();
        ASSIGN_OR_RETURN(teams, r.accounts().teams_of_user(code->user_id));
        return {};
    }));
    if (!code) {
        return invalid_grant("Invalid or expired authorization code");
    }
    if (code->consumed_at) {
        // RFC 6749 §4.1.2: a code used twice is a sign of theft; revoke what it produced.
        if (code->family_id) {
            RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
                RETURN_IF_ERROR(r.grants().revoke_family(*code->family_id, "code_replayed", now));
                RETURN_IF_ERROR(record_replay(r, *code, *code->family_id, now));
                return r.webhooks().enqueue(
                    webhooks::grant_revoked(code->client_id, code->user_id, *code->family_id,
                                            webhooks::revoke_reason::replay, now));
            }));
        }
        telemetry_->count("provisiond_code_replays_total");
        if (code->family_id) {
            telemetry_->count("provisiond_family_revocations_total", {{"reason", "code_replayed"}});
        }
        return invalid_grant(
            "Authorization code was already used; tokens issued from it have been revoked");
    }
    if (code->expires_at <= now) {
        return invalid_grant("Invalid or expired authorization code");
    }
    if (request.client_id && !request.client_id->empty() && *request.client_id != code->client_id) {
        return invalid_grant("Authorization code was not issued to this client");
    }
    if (!request.code_verifier || request.code_verifier->empty()) {
        // 400 (RFC 6749 §5.2), where PostHog answers 401; the code survives either way.
        return make_error(ErrorCode::invalid_request,
                          "code_verifier is required for PKCE: send the verifier whose S256 "
                          "challenge went with the account request (43-128 characters of "
                          "[A-Za-z0-9-._~])");
    }
    if (!is_valid_code_verifier(*request.code_verifier)) {
        return make_error(ErrorCode::invalid_request,
                          "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]");
    }
    if (!verify_s256(*request.code_verifier, code->code_challenge)) {
        return invalid_grant("PKCE code_verifier does not match: BASE64URL(SHA256(code_verifier)) "
                             "must equal the code_challenge sent with the account request");
    }
    if (code->redirect_uri && request.redirect_uri != code->redirect_uri) {
        return invalid_grant(
            "redirect_uri does not match the one used in the authorization request");
    }
    if (!client || !client->is_active) {
        return invalid_grant("The client this grant was issued to is disabled; re-authorize.");
    }
    if (!within_ceiling(code->scopes, client->scopes)) {
        return make_error(ErrorCode::invalid_scope,
                          "Requested scopes exceed the application's allowed scopes");
    }

    if (!user_found) {
        return invalid_grant("User not found");
    }

    // 2. Draw the family and the token pair before the write transaction (nothing random or
    //    hashed under the writer), then charge the partner's limit only now (a leaked code
    //    without its verifier cannot spend quota), consume atomically and mint, all in one
    //    transaction: a limited exchange rolls back and leaves the code usable.
    TokenFamily family;
    family.id = crypto::random_uuid();
    family.client_id = code->client_id;
    family.user_id = code->user_id;
    family.organization_id = code->organization_id;
    family.scopes = code->scopes;
    family.project_ids = {code->project_id};
    family.created_at = now;
    const MintedPair pair = mint_pair(family.id, std::nullopt, lifetimes_, now);

    IssuedTokens issued;
    std::optional<Error> lost_race;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(limiter_.charge_in(r, rate_limited_partner(*client),
                                           ratelimit::Endpoint::token_exchanges));
        RETURN_IF_ERROR(r.grants().insert_family(family));
        ASSIGN_OR_RETURN(bool won, r.grants().consume_code(code_hash, family.id, now));
        if (!won) {
            // Another exchange got there first: that is a second use of the code.
            ASSIGN_OR_RETURN(auto current, r.grants().find_code(code_hash));
            if (current && current->family_id) {
                const std::string& first_family = *current->family_id;
                RETURN_IF_ERROR(r.grants().revoke_family(first_family, "code_replayed", now));
                RETURN_IF_ERROR(r.webhooks().enqueue(
                    webhooks::grant_revoked(code->client_id, code->user_id, first_family,
                                            webhooks::revoke_reason::replay, now)));
                RETURN_IF_ERROR(record_replay(r, *code, first_family, now));
            }
            RETURN_IF_ERROR(r.grants().revoke_family(family.id, "code_replayed", now));
            lost_race = invalid_grant(
                "Authorization code was already used; tokens issued from it have been revoked");
            return {};
        }
        ASSIGN_OR_RETURN(issued, store_pair(r.grants(), pair, family.scopes));
        issued.account = AccountSummary{code->organization_id, teams};
        return {};
    }));
    if (lost_race) {
        telemetry_->count("provisiond_code_replays_total");
        telemetry_->count("provisiond_family_revocations_total", {{"reason", "code_replayed"}});
        return *lost_race;
    }
    return issued;
}

Result<IssuedTokens> TokenService::refresh_steps(const RefreshRequest& request) {
    if (!request.refresh_token || request.refresh_token->empty()) {
        return make_error(ErrorCode::invalid_request,
                          "refresh_token is required with grant_type=refresh_token");
    }
    const std::string presented_hash = crypto::sha256_hex(*request.refresh_token);
    const std::int64_t now = clock_.now();

    // Validate and charge the limit before rotating anything.
    std::optional<RefreshToken> presented;
    std::optional<TokenFamily> family;
    std::optional<OAuthClient> client;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(presented, r.grants().find_refresh_token(presented_hash));
        if (!presented) {
            return {};
        }
        ASSIGN_OR_RETURN(family, r.grants().find_family(presented->family_id));
        if (family) {
            ASSIGN_OR_RETURN(client, r.clients().find(family->client_id));
        }
        return {};
    }));
    if (!presented || !family || family->revoked_at || presented->revoked_at) {
        return invalid_grant("Invalid or revoked refresh token");
    }
    if (presented->expires_at <= now) {
        return invalid_grant("Refresh token expired; re-authorize.");
    }
    if (request.client_id && !request.client_id->empty() &&
        *request.client_id != family->client_id) {
        return invalid_grant("Refresh token was not issued to this client");
    }
    if (!client || !client->is_active) {
        return invalid_grant("The client this grant was issued to is disabled; re-authorize.");
    }
    // Scope may only narrow: intersect with the client's ceiling as it is today.
    std::vector<std::string> scopes = narrow_to_ceiling(family->scopes, client->scopes);
    if (scopes.empty()) {
        return invalid_grant("Token scopes are no longer within the application's allowed "
                             "scopes; re-authorize.");
    }
    const MintedPair pair = mint_pair(family->id, presented_hash, lifetimes_, now);

    // Charge, then rotate (or recognise reuse) inside one write transaction: the decision and
    // its effect cannot be split by a concurrent refresh, in this process or another. The
    // common case first, in as few statements as the writer can take: the presented token is
    // live and rotates. Anything else is looked at closely (answer_spent_refresh).
    RotationOutcome outcome;
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(limiter_.charge_in(r, rate_limited_partner(*client),
                                           ratelimit::Endpoint::token_exchanges));
        auto& grants = r.grants();
        ASSIGN_OR_RETURN(bool rotated, grants.mark_rotated(presented_hash, now));
        if (!rotated) {
            ASSIGN_OR_RETURN(
                outcome, answer_spent_refresh(r, lifetimes_, presented_hash, pair, scopes, now));
            return {};
        }
        // The old bearer stops working at once.
        RETURN_IF_ERROR(grants.revoke_access_token(presented->access_token_hash, now));
        if (scopes != family->scopes) {
            RETURN_IF_ERROR(grants.set_family_scopes(family->id, scopes));
        }
        ASSIGN_OR_RETURN(outcome.issued, store_pair(grants, pair, scopes));
        return {};
    }));
    if (outcome.family_reused) {
        telemetry_->count("provisiond_family_revocations_total",
                          {{"reason", "refresh_token_reused"}});
    }
    if (outcome.refused) {
        return *outcome.refused;
    }
    return std::move(outcome.issued);
}

} // namespace provisiond::oauth
