#pragma once

#include "outbox/email.hpp"

namespace provisiond::outbox {

/// Something that can hand a message on; the worker retries what it fails.
class Sender {
public:
    virtual ~Sender() = default;
    virtual Result<void> deliver(const Email& email) = 0;
};

} // namespace provisiond::outbox
