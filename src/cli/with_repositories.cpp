#include "cli/with_repositories.hpp"

#include "app/app.hpp"
#include "app/database_backend.hpp"
#include "storage/sql_repositories.hpp"

#include <filesystem>
#include <iostream>

namespace provisiond::cli {

int with_repositories(const Config& config, const std::function<int(Repositories&)>& work) {
    // Only `serve` and `migrate` create a database: a typo or a forgotten --database must not
    // leave an empty provisiond.db behind and then report "no clients".
    std::error_code ec;
    if (app::backend_of(config.database) == app::Backend::sqlite &&
        !std::filesystem::exists(config.database, ec)) {
        std::cerr
            << "error: there is no database at " << config.database
            << ".\n  Point --database (or PROVISIOND_DATABASE) at the file `provisiond serve` "
               "uses,\n  or create a new one with `provisiond migrate --database "
            << config.database << "`.\n";
        return 1;
    }
    std::vector<std::string> warnings;
    auto db = app::open_migrated_database(config, 1, nullptr, &warnings);
    if (!db) {
        std::cerr << "error: " << db.error().message << "\n";
        return 1;
    }
    for (const auto& warning : warnings) {
        std::cerr << "warning: migration: " << warning << "\n"; // said once: the migration is done
    }
    storage::SqlUnitOfWork uow(**db);
    int code = 0;
    auto done = uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        code = work(r);
        if (code != 0) {
            // A command that failed half-way changes nothing (e.g. a client disabled but
            // its deep links still live).
            return make_error(ErrorCode::conflict, "command failed; rolled back");
        }
        return {};
    });
    if (code != 0) {
        return code;
    }
    if (!done) {
        std::cerr << "error: " << done.error().message << " (" << done.error().debug << ")\n";
        return 1;
    }
    return code;
}

int report_failure(const Error& error) {
    std::cerr << "error: " << (error.message.empty() ? "the command failed" : error.message)
              << (error.debug.empty() ? "" : " (" + error.debug + ")") << "\n";
    return 1;
}

} // namespace provisiond::cli
