#pragma once
// Writes committed audit events to the application log, one line each ("audit" and the event as
// JSON), then marks them logged: a rolled-back change never reaches the log, and a restart
// logs what was committed but not yet shipped.

#include "core/clock.hpp"
#include "core/unit_of_work.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace provisiond::audit {

class AuditShipper {
public:
    AuditShipper(UnitOfWork& uow, const Clock& clock, std::shared_ptr<spdlog::logger> log);
    ~AuditShipper();
    void start();
    void stop();
    /// Logs what is waiting; how many.
    int ship_once();

private:
    UnitOfWork& uow_;
    const Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

} // namespace provisiond::audit
