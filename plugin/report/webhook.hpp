#pragma once

#include <string>
#include <string_view>

#include "multipush/config/config.hpp"
#include "multipush/report/summary.hpp"

// Pieces of notify() exposed to the unit tests.
namespace multipush::report::detail {

// Returns the body of the generic webhook, schema 1, serialised once: these
// exact bytes are signed and sent. Every string is redacted.
std::string webhook_body(const RunSummary& summary);

// Returns "sha256=" and the lower-case hex HMAC-SHA256 of `body` keyed with
// `secret`, the X-Multipush-Signature header value.
std::string webhook_signature(std::string_view body, std::string_view secret);

// Returns true when `notification` is to be sent for this run: its `on`
// matches the result (failure when the exit code is not 0), and its
// `targets`/`registries` filters, when set, match an outcome, a failed target
// or a failed registry. For `on: failure` only failed ones count.
bool should_notify(const config::Notify& notification, const RunSummary& summary);

// Returns the scheme and authority of `url` followed by "/****" when the URL
// has a path or query, since webhook URLs usually carry their token there.
std::string url_for_log(std::string_view url);

}  // namespace multipush::report::detail
