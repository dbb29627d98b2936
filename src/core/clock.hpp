#pragma once
// Time is injected so that expiry rules can be tested without sleeping.

#include <chrono>
#include <cstdint>

namespace provisiond {

/// Wall-clock time in whole Unix seconds: the unit of every stored timestamp.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t now() const = 0;
};

class SystemClock final : public Clock {
public:
    std::int64_t now() const override {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

/// A clock the tests move by hand.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start) : now_(start) {}
    std::int64_t now() const override { return now_; }
    void advance(std::int64_t seconds) { now_ += seconds; }

private:
    std::int64_t now_;
};

} // namespace provisiond
