#include "multipush/util/env.hpp"

#include <cstdlib>

namespace multipush::util {

std::optional<std::string> get_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string get_env_or(const std::string& name, const std::string& fallback) {
  auto value = get_env(name);
  if (!value || value->empty()) return fallback;
  return *value;
}

}  // namespace multipush::util
