// Response bodies, assembled by hand on the hot paths: the record's payload and result are
// JSON that Courier itself serialized, spliced in as they are stored.
#pragma once

#include <string>
#include <vector>

#include "courier/core/store.h"

namespace courier::api {

// The native record of API.md "Records".
std::string renderRecord(const Record& r);
void appendRecord(std::string& out, const Record& r);

// {"requests": [{id, runtime_id, kind, payload, attempt, lease_expires_at}...]}
std::string renderClaimed(const std::vector<ClaimedRequest>& reqs);

std::string renderRuntime(const RuntimeInfo& rt, const std::string& workspace);
std::string renderRuntimes(const std::vector<RuntimeInfo>& rts);

}  // namespace courier::api
