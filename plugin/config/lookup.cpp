// Finding and reading the config file.

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

#include "multipush/config/config.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"

namespace multipush::config {

namespace {

namespace fs = std::filesystem;

fs::path require_file(const fs::path& path, const std::string& source) {
  std::error_code error;
  auto status = fs::status(path, error);
  if (!fs::exists(status)) {
    throw UsageError("config file " + path.string() + " (from " + source + ") does not exist; check the path");
  }
  if (fs::is_directory(status)) {
    throw UsageError("config file " + path.string() + " (from " + source +
                     ") is a directory; name the multipush.yaml inside it");
  }
  return path;
}

}  // namespace

std::optional<fs::path> find_config(const std::optional<fs::path>& explicit_file, const fs::path& cwd) {
  if (explicit_file) return require_file((cwd / *explicit_file).lexically_normal(), "-f");

  if (auto from_env = util::get_env("MULTIPUSH_CONFIG"); from_env && !from_env->empty()) {
    return require_file((cwd / *from_env).lexically_normal(), "$MULTIPUSH_CONFIG");
  }

  for (const char* candidate : {"multipush.yaml", ".github/multipush.yaml"}) {
    fs::path path = cwd / candidate;
    std::error_code error;
    if (fs::is_regular_file(path, error)) return path;
  }
  return std::nullopt;
}

Config load_config(const fs::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    throw UsageError("cannot read config file " + file.string() + ": " + std::make_error_code(std::errc(errno)).message() +
                     "; check the path and its permissions");
  }
  std::ostringstream text;
  text << stream.rdbuf();
  if (stream.bad()) throw UsageError("cannot read config file " + file.string() + "; check its permissions");
  return parse_config(text.str(), file);
}

}  // namespace multipush::config
