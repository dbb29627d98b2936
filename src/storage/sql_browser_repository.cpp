#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

using namespace web;

class SqlBrowserRepository final : public BrowserRepository {
public:
    explicit SqlBrowserRepository(Connection& c) : c_(c) {}

    Result<void> insert_session(const Session& s) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    {s.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at}));
        return {};
    }

    Result<std::optional<Session>> find_session(std::string_view id_hash) override {
        return first<Session>(
            query(c_,
                  "SELECT id_hash, user_id, created_at, last_seen_at, expires_at FROM sessions "
                  "WHERE id_hash = $1",
                  {std::string(id_hash)}),
            [](const Row& r) {
                return Session{r.text(0), r.text(1), r.integer(2), r.integer(3), r.integer(4)};
            });
    }

    Result<void> touch_session(std::string_view id_hash, std::int64_t now) override {
        RETURN_IF_ERROR(execute(c_, "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2",
                                {now, std::string(id_hash)}));
        return {};
    }

    Result<void> delete_session(std::string_view id_hash) override {
        RETURN_IF_ERROR(
            execute(c_, "DELETE FROM sessions WHERE id_hash = $1", {std::string(id_hash)}));
        return {};
    }

    Result<void> purge_expired(std::int64_t now) override {
        RETURN_IF_ERROR(execute(c_, "DELETE FROM sessions WHERE expires_at <= $1", {now}));
        RETURN_IF_ERROR(
            execute(c_, "DELETE FROM authorization_requests WHERE expires_at <= $1", {now}));
        RETURN_IF_ERROR(execute(c_, "DELETE FROM deep_links WHERE expires_at <= $1", {now}));
        RETURN_IF_ERROR(execute(c_, "DELETE FROM reveals WHERE expires_at <= $1", {now}));
        return {};
    }

    Result<void> delete_sessions_of(std::string_view user_id) override {
        RETURN_IF_ERROR(
            execute(c_, "DELETE FROM sessions WHERE user_id = $1", {std::string(user_id)}));
        return {};
    }

    Result<std::optional<std::string>> consume_password_link(std::string_view hash,
                                                             std::int64_t now) override {
        // The compare-and-set that makes a link single-use.
        return first<std::string>(
            query(c_,
                  "UPDATE password_set_tokens SET used_at = $1 WHERE token_hash = $2 AND "
                  "used_at IS NULL AND expires_at > $1 RETURNING user_id",
                  {now, std::string(hash)}),
            [](const Row& r) { return r.text(0); });
    }

    Result<void> set_password(std::string_view user_id, std::string_view password_hash) override {
        RETURN_IF_ERROR(
            execute(c_, "UPDATE users SET password_hash = $1, email_verified = 1 WHERE id = $2",
                    {std::string(password_hash), std::string(user_id)}));
        return {};
    }

    Result<std::optional<provisioning::PendingConsent>>
    find_pending_consent(std::string_view hash) override {
        return first<provisioning::PendingConsent>(
            query(c_,
                  "SELECT state_hash, client_id, email_normalized, user_id, scopes, region, "
                  "code_challenge, "
                  "code_challenge_method, created_at, expires_at FROM pending_consents WHERE "
                  "state_hash = $1",
                  {std::string(hash)}),
            [](const Row& r) {
                return provisioning::PendingConsent{
                    r.text(0), r.text(1), r.text(2), r.text(3),    split_spaces(r.text(4)),
                    r.text(5), r.text(6), r.text(7), r.integer(8), r.integer(9)};
            });
    }

    Result<bool> delete_pending_consent(std::string_view hash) override {
        ASSIGN_OR_RETURN(auto n, execute(c_, "DELETE FROM pending_consents WHERE state_hash = $1",
                                         {std::string(hash)}));
        return n == 1;
    }

    Result<void> insert_authorization_request(const AuthorizationRequest& a) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO authorization_requests (state_hash, client_id, redirect_uri, "
            "client_state, scopes, code_challenge, created_at, expires_at, redirect_uri_sent) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            {a.state_hash, a.client_id, a.redirect_uri, optional_text(a.client_state),
             join(a.scopes, " "), a.code_challenge, a.created_at, a.expires_at,
             std::int64_t{a.redirect_uri_sent}}));
        return {};
    }

    Result<std::optional<AuthorizationRequest>>
    find_authorization_request(std::string_view hash) override {
        return first<AuthorizationRequest>(
            query(c_,
                  "SELECT state_hash, client_id, redirect_uri, client_state, scopes, "
                  "code_challenge, created_at, "
                  "expires_at, redirect_uri_sent FROM authorization_requests WHERE state_hash = $1",
                  {std::string(hash)}),
            [](const Row& r) {
                return AuthorizationRequest{r.text(0),
                                            r.text(1),
                                            r.text(2),
                                            r.optional_text(3),
                                            split_spaces(r.text(4)),
                                            r.text(5),
                                            r.integer(6),
                                            r.integer(7),
                                            r.integer(8) != 0};
            });
    }

    Result<bool> delete_authorization_request(std::string_view hash) override {
        ASSIGN_OR_RETURN(auto n,
                         execute(c_, "DELETE FROM authorization_requests WHERE state_hash = $1",
                                 {std::string(hash)}));
        return n == 1;
    }

    Result<void> insert_deep_link(const DeepLink& d) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO deep_links (token_hash, user_id, client_id, project_id, purpose, path, "
            "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {d.token_hash, d.user_id, d.client_id, optional_int(d.project_id), d.purpose,
             optional_text(d.path), d.created_at, d.expires_at}));
        return {};
    }

    Result<std::optional<DeepLink>> consume_deep_link(std::string_view hash,
                                                      std::int64_t now) override {
        return first<DeepLink>(
            query(c_,
                  "UPDATE deep_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL "
                  "AND expires_at > $1 "
                  "RETURNING token_hash, user_id, client_id, project_id, purpose, path, "
                  "created_at, expires_at",
                  {now, std::string(hash)}),
            [](const Row& r) {
                return DeepLink{r.text(0), r.text(1),          r.text(2),    r.optional_integer(3),
                                r.text(4), r.optional_text(5), r.integer(6), r.integer(7)};
            });
    }

    Result<void> insert_reveal(const Reveal& reveal) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO reveals (key_hash, user_id, kind, box, expires_at) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    {reveal.key_hash, reveal.user_id, reveal.kind, reveal.box, reveal.expires_at}));
        return {};
    }

    Result<std::optional<Reveal>> take_reveal(std::string_view key_hash, std::string_view user_id,
                                              std::int64_t now) override {
        return first<Reveal>(
            query(c_,
                  "DELETE FROM reveals WHERE key_hash = $1 AND user_id = $2 AND expires_at > $3 "
                  "RETURNING key_hash, user_id, kind, box, expires_at",
                  {std::string(key_hash), std::string(user_id), now}),
            [](const Row& r) {
                return Reveal{r.text(0), r.text(1), r.text(2), r.text(3), r.integer(4)};
            });
    }

    Result<std::int64_t> retire_deep_links_of_client(std::string_view client_id,
                                                     std::int64_t now) override {
        return execute(
            c_, "UPDATE deep_links SET used_at = $1 WHERE client_id = $2 AND used_at IS NULL",
            {now, std::string(client_id)});
    }

    Result<std::int64_t> withdraw_consents_of_client(std::string_view client_id) override {
        ASSIGN_OR_RETURN(auto from_requests,
                         execute(c_, "DELETE FROM pending_consents WHERE client_id = $1",
                                 {std::string(client_id)}));
        ASSIGN_OR_RETURN(auto from_authorize,
                         execute(c_, "DELETE FROM authorization_requests WHERE client_id = $1",
                                 {std::string(client_id)}));
        return from_requests + from_authorize;
    }

    Result<std::int64_t> revoke_keys_of_client(std::string_view client_id,
                                               std::int64_t now) override {
        return execute(c_,
                       "UPDATE personal_api_keys SET revoked_at = $1 WHERE client_id = $2 AND "
                       "revoked_at IS NULL",
                       {now, std::string(client_id)});
    }

    Result<std::vector<ProjectView>> projects_of_user(std::string_view user_id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(
                c_,
                "SELECT p.id, p.organization_id, p.name, p.api_token, p.created_at, o.name, m.role "
                "FROM memberships m JOIN organizations o ON o.id = m.organization_id "
                "JOIN projects p ON p.organization_id = o.id WHERE m.user_id = $1 "
                "ORDER BY o.created_at, o.id, p.id",
                {std::string(user_id)}));
        std::vector<ProjectView> out;
        for (const auto& r : rows) {
            out.push_back(ProjectView{{r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4)},
                                      r.text(5),
                                      r.text(6)});
        }
        return out;
    }

    Result<std::vector<KeyView>> live_keys_of_user(std::string_view user_id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(
                c_,
                "SELECT id, mask, label, project_id, client_id, created_at FROM personal_api_keys "
                "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id",
                {std::string(user_id)}));
        std::vector<KeyView> out;
        for (const auto& r : rows) {
            out.push_back(KeyView{r.text(0), r.text(1), r.text(2), r.integer(3), r.optional_text(4),
                                  r.integer(5)});
        }
        return out;
    }

    Result<bool> revoke_key(std::string_view id, std::string_view user_id,
                            std::int64_t now) override {
        ASSIGN_OR_RETURN(
            auto n,
            execute(
                c_,
                "UPDATE personal_api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND "
                "revoked_at IS NULL",
                {now, std::string(id), std::string(user_id)}));
        return n == 1;
    }

    Result<std::vector<ConnectedApp>> connected_apps(std::string_view user_id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT f.client_id, c.name, COUNT(*), MIN(f.created_at) FROM token_families f "
                  "JOIN oauth_clients c ON c.client_id = f.client_id "
                  "WHERE f.user_id = $1 AND f.revoked_at IS NULL GROUP BY f.client_id, c.name "
                  "ORDER BY MIN(f.created_at), f.client_id",
                  {std::string(user_id)}));
        std::vector<ConnectedApp> out;
        for (const auto& r : rows) {
            out.push_back(ConnectedApp{r.text(0), r.text(1), r.integer(2), r.integer(3)});
        }
        return out;
    }

    Result<std::int64_t> disconnect_app(std::string_view user_id, std::string_view client_id,
                                        std::int64_t now) override {
        const std::string families =
            "SELECT id FROM token_families WHERE user_id = $2 AND client_id = $3 AND "
            "revoked_at IS NULL";
        std::string user(user_id);
        std::string client(client_id);
        RETURN_IF_ERROR(execute(
            c_,
            "UPDATE access_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id IN (" +
                families + ")",
            {now, user, client}));
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS "
                                "NULL AND family_id IN (" +
                                    families + ")",
                                {now, user, client}));
        // Everything else the partner holds for this person: keys it minted, codes not yet
        // exchanged, deep links not yet used.
        RETURN_IF_ERROR(execute(
            c_,
            "UPDATE personal_api_keys SET revoked_at = $1 WHERE user_id = $2 AND client_id = $3 "
            "AND revoked_at IS NULL",
            {now, user, client}));
        RETURN_IF_ERROR(execute(
            c_,
            "UPDATE authorization_codes SET expires_at = $1 WHERE user_id = $2 AND client_id = $3 "
            "AND consumed_at IS NULL AND expires_at > $1",
            {now, user, client}));
        RETURN_IF_ERROR(
            execute(c_,
                    "UPDATE deep_links SET used_at = $1 WHERE user_id = $2 AND client_id = $3 AND "
                    "used_at IS NULL AND expires_at > $1", // live links, by the expiry index
                    {now, user, client}));
        ASSIGN_OR_RETURN(
            auto n,
            execute(c_,
                    "UPDATE token_families SET revoked_at = $1, revoked_reason = 'disconnected' "
                    "WHERE user_id = $2 AND client_id = $3 AND revoked_at IS NULL",
                    {now, user, client}));
        return n;
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<web::BrowserRepository> make_sql_browser_repository(Connection& c) {
    return std::make_unique<SqlBrowserRepository>(c);
}

} // namespace provisiond::storage
