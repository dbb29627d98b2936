#include "cli/with_repositories.hpp"

#include "app/app.hpp"
#include "storage/sql_repositories.hpp"

#include <iostream>

namespace provisiond::cli {

int with_repositories(const Config& config,
                      const std::function<int(storage::Repositories&)>& work) {
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
