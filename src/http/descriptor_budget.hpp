#pragma once
// Open connections are file descriptors, and so are database files, metadata fetches and SMTP
// sessions. A server that accepts until the process runs out of descriptors can no longer open
// its database or even accept: so at start we raise the soft RLIMIT_NOFILE to the hard limit
// and cap connections below it, keeping a reserve for everything else.

#include <cstdint>

namespace provisiond::http {

struct DescriptorBudget {
    std::uint64_t soft_limit_before = 0; ///< RLIMIT_NOFILE soft limit found at start
    std::uint64_t soft_limit = 0;        ///< after raising it to the hard limit (when allowed)
    int reserved = 0;                    ///< kept for storage, fetches, mail, logs, the listener
    int max_connections = 0;             ///< the connection cap in force: at most the wanted one
};

/// Raises the soft descriptor limit as far as the hard limit allows and returns the connection
/// cap that fits below it with `reserved` descriptors to spare (at least 1).
DescriptorBudget plan_descriptors(int wanted_connections, int reserved);

} // namespace provisiond::http
