#include "cli/with_repositories.hpp"

#include "app/app.hpp"
#include "storage/sql_repositories.hpp"

#include <filesystem>
#include <iostream>

namespace provisiond::cli {

int with_repositories(const Config& config,
                      const std::function<int(storage::Repositories&)>& work) {
    // Only `serve` and `migrate` create a database: a typo or a forgotten --database must not
    // leave an empty provisiond.db behind and then report "no clients".
    std::error_code ec;
    if (!std::filesystem::exists(config.database, ec)) {
        std::cerr
            << "error: there is no database at " << config.database
            << ".\n  Point --database (or PROVISIOND_DATABASE) at the file `provisiond serve` "
               "uses,\n  or create a new one with `provisiond migrate --database "
            << config.database << "`.\n";
        return 1;
    }
    auto db = app::open_migrated_database(config, 1, nullptr);
    if (!db) {
        std::cerr << "error: " << db.error().message << "\n";
        return 1;
    }
    storage::SqlUnitOfWork uow(**db);
    int code = 0;
    auto done =
        uow.run(storage::TransactionMode::write, [&](storage::Repositories& r) -> Result<void> {
            code = work(r);
            return {};
        });
    if (!done) {
        std::cerr << "error: " << done.error().message << " (" << done.error().debug << ")\n";
        return 1;
    }
    return code;
}

} // namespace provisiond::cli
