#pragma once

#include <optional>
#include <string>

namespace multipush::util {

// Returns the value of an environment variable, or std::nullopt when unset.
std::optional<std::string> get_env(const std::string& name);

// Returns the value, or `fallback` when the variable is unset or empty.
std::string get_env_or(const std::string& name, const std::string& fallback);

}  // namespace multipush::util
