#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace multipush::output {

// Registers a secret (password, token, webhook URL secret) so that redact()
// hides it. Values shorter than 4 characters are ignored, since hiding them
// would garble ordinary text. The base64 form of "user:secret" is not
// derived here: register it too where it is built. In GitHub Actions the
// value is also masked with ::add-mask:: on stderr.
void register_secret(std::string_view secret);

// Returns `text` with every registered secret replaced by "****", and with
// the values of Authorization headers and of `password`, `token` and
// `access_token` query or JSON fields hidden. Every output path (printer,
// run log, notifications, error messages, debug log) goes through it.
std::string redact(std::string_view text);

// Returns a copy of `value` with redact() applied to every string, keys
// included, and with the whole value of any `password`, `secret`, `token`,
// `access_token`, `refresh_token`, `identitytoken` or `authorization` key
// replaced by "****" when it is a string.
nlohmann::json redact_json(const nlohmann::json& value);

}  // namespace multipush::output
