#pragma once

#include <vector>

#include "multipush/config/config.hpp"
#include "multipush/output/printer.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/report/summary.hpp"

namespace multipush::report {

// Sends the notifications whose `on` matches the run's result (failure when
// the exit code is not 0) and whose `targets`/`registries` filters match the
// run. Each result is written to `log` as a "notification" event with the
// type, the URL without its path and query, `ok`, and the HTTP status or the
// error. A failed or unsupported notification is also shown as a warning
// through `printer` when one is given. Never throws and never changes the
// run's result.
//
// The "webhook" type posts the run as JSON with Content-Type
// application/json, a 10 s timeout and one retry after a connection error or
// a 5xx response. The body, schema 1, has the keys schema, run_id, status,
// exit_code, repository, ref, sha, run_url, seconds, failed_targets,
// failed_registries and outcomes (target, registry, repository, tags,
// digest, status, error). With a secret, X-Multipush-Signature is
// "sha256=" and the hex HMAC-SHA256 of the exact body bytes keyed with it.
// Other types are not supported yet and are logged as such.
void notify(const std::vector<config::Notify>& notifications, const RunSummary& summary, RunLog& log,
            output::Printer* printer = nullptr);

}  // namespace multipush::report
