#include "storage/email_identity_migration.hpp"

#include "accounts/email_address.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"

#include <cstdio>
#include <map>

namespace provisiond::storage {
namespace {

struct UserRow {
    std::string id;
    std::string email;
    std::string old_key;
    std::int64_t created_at = 0;
    std::string new_key;
};

/// Text from the database made safe and exact for a log line: printable ASCII as is, every other
/// character as \u{XXXX} (bytes of invalid UTF-8 as \xNN), so "jos\u{E9}" and "jose\u{301}" —
/// identical on screen — read differently, and a stored CR/LF cannot break the report's lines.
std::string escaped(std::string_view text) {
    std::string out = "\"";
    auto hex = [&](const char* format, unsigned value) {
        char buffer[16];
        std::snprintf(buffer, sizeof buffer, format, value);
        out += buffer;
    };
    if (!is_valid_utf8(text)) {
        for (unsigned char c : text) {
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                out += static_cast<char>(c);
            } else {
                hex("\\x%02X", c);
            }
        }
        return out + "\"";
    }
    for (char32_t c : decode_utf8(text)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            hex("\\u{%X}", static_cast<unsigned>(c));
        }
    }
    return out + "\"";
}

std::string describe(const UserRow& u) {
    return "user " + u.id + "  email " + escaped(u.email) + "  created " +
           format_iso8601(u.created_at);
}

} // namespace

Result<std::vector<std::string>> rekey_email_identities(Connection& c) {
    ASSIGN_OR_RETURN(auto rows,
                     query(c, "SELECT id, email, email_normalized, created_at FROM users "
                              "ORDER BY created_at, id"));
    std::vector<UserRow> users;
    std::vector<std::string> warnings;
    users.reserve(rows.size());
    for (const Row& row : rows) {
        UserRow u{row.text(0), row.text(1), row.text(2), row.integer(3), {}};
        auto parsed = accounts::parse_email(u.email);
        if (parsed) {
            u.new_key = parsed->key;
        } else {
            u.new_key = u.old_key;
            warnings.push_back(
                describe(u) + " keeps its old email key " + escaped(u.old_key) +
                ": the address cannot be parsed (" + parsed.error().message +
                "). Until it is corrected nobody can log in to or reach this account (every "
                "address "
                "that comes in is parsed first): correct it by hand, e.g. for an ASCII address "
                "UPDATE users SET email = '<address>', email_normalized = '<address in lower "
                "case>' WHERE id = '" +
                u.id + "';");
        }
        users.push_back(std::move(u));
    }

    std::map<std::string, std::vector<const UserRow*>> by_key;
    for (const auto& u : users) {
        by_key[u.new_key].push_back(&u);
    }
    std::string collisions;
    std::size_t colliding_users = 0;
    for (const auto& [key, holders] : by_key) {
        if (holders.size() < 2) {
            continue;
        }
        colliding_users += holders.size();
        collisions += "\n  identity " + escaped(key) + ":";
        for (const UserRow* u : holders) {
            collisions += "\n    " + describe(*u);
        }
    }
    if (colliding_users > 0) {
        return make_error(
            ErrorCode::conflict, "email identities collide",
            std::to_string(colliding_users) +
                " accounts would share an email identity, so nothing was changed and provisiond "
                "will not start on this database.\nAn email address now has one identity "
                "whatever its Unicode form, letter case or domain spelling (IDN or punycode); "
                "see docs/API.md \"Email identity\". Each group below is one mailbox with "
                "several accounts:" +
                collisions +
                "\nWhat to do: back up the database. For each group, decide which account the "
                "owner of the mailbox keeps (its partners, projects and keys stay with it). Give "
                "every other account in the group an address of its own, e.g.\n"
                "    UPDATE users SET email = '<another address>' WHERE id = '<user id>';\n"
                "(this migration recomputes the identity from the email column), then run "
                "`provisiond migrate` again. Until then the previous provisiond version still "
                "runs on this database unchanged.");
    }

    // Two steps, so that a key moving from one row to another never meets the UNIQUE constraint
    // half-way: first a placeholder no address can equal (it has no '@'), then the new key.
    for (const auto& u : users) {
        if (u.new_key != u.old_key) {
            RETURN_IF_ERROR(execute(c, "UPDATE users SET email_normalized = $1 WHERE id = $2",
                                    {"rekey:" + u.id, u.id}));
        }
    }
    for (const auto& u : users) {
        if (u.new_key == u.old_key) {
            continue;
        }
        RETURN_IF_ERROR(
            execute(c, "UPDATE users SET email_normalized = $1 WHERE id = $2", {u.new_key, u.id}));
        // Short-lived rows of the same person follow: a pending consent is looked up by its
        // state, but an account request's key decides whether a retry is "the same request".
        RETURN_IF_ERROR(
            execute(c, "UPDATE pending_consents SET email_normalized = $1 WHERE user_id = $2",
                    {u.new_key, u.id}));
        RETURN_IF_ERROR(
            execute(c, "UPDATE account_requests SET email_normalized = $1 WHERE user_id = $2",
                    {u.new_key, u.id}));
    }
    return warnings;
}

} // namespace provisiond::storage
