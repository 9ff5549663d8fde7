#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace multipush::config {

// Returns the value of an environment variable, or std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Expands `${NAME}`, `${NAME:-default}` (default when unset or empty) and
// `${NAME-default}` (default when unset) in `text`. `$$` is a literal "$",
// and a "$" followed by anything else is kept as is. Returns an error message
// when a variable is unset and has no default, or when the syntax is invalid.
std::expected<std::string, std::string> expand_env(std::string_view text, const EnvLookup& lookup);

}  // namespace multipush::config
