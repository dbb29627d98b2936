#pragma once
// Every repository interface at once: only storage/ (which implements them all) and the
// composition root include this. Domain code includes core/unit_of_work.hpp and the repository
// headers it uses.

#include "accounts/account_repository.hpp"
#include "audit/audit_repository.hpp"
#include "cimd/cimd_repository.hpp"
#include "core/unit_of_work.hpp"
#include "maintenance/purge_repository.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"
#include "outbox/email.hpp"
#include "provisioning/provisioning_repository.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "web/browser_repository.hpp"
#include "webhooks/webhook_repository.hpp"
