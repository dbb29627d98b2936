#include "http/descriptor_budget.hpp"

#include <algorithm>
#include <sys/resource.h>

namespace provisiond::http {

DescriptorBudget plan_descriptors(int wanted_connections, int reserved) {
    DescriptorBudget budget;
    budget.reserved = reserved;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        budget.soft_limit_before = limit.rlim_cur;
        if (limit.rlim_cur != limit.rlim_max) {
            rlimit raised = limit;
            raised.rlim_cur = limit.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
                limit = raised;
            }
        }
        budget.soft_limit = limit.rlim_cur;
    }
    std::uint64_t room = budget.soft_limit > static_cast<std::uint64_t>(reserved)
                             ? budget.soft_limit - static_cast<std::uint64_t>(reserved)
                             : 1;
    if (limit.rlim_cur == RLIM_INFINITY) {
        room = static_cast<std::uint64_t>(wanted_connections);
    }
    budget.max_connections = static_cast<int>(
        std::max<std::uint64_t>(1, std::min<std::uint64_t>(room, wanted_connections)));
    return budget;
}

} // namespace provisiond::http
