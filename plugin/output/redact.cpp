#include "multipush/output/redact.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <regex>
#include <set>
#include <vector>

#include "multipush/util/env.hpp"

namespace multipush::output {
namespace {

std::mutex secrets_mutex;

std::vector<std::string>& secrets() {
  static std::vector<std::string> values;
  return values;
}

void replace_all(std::string& text, const std::string& needle) {
  size_t position = 0;
  while ((position = text.find(needle, position)) != std::string::npos) {
    text.replace(position, needle.size(), "****");
    position += 4;
  }
}

}  // namespace

void register_secret(std::string_view secret) {
  if (secret.size() < 4) return;
  std::lock_guard lock(secrets_mutex);
  auto& values = secrets();
  std::string value(secret);
  if (std::find(values.begin(), values.end(), value) != values.end()) return;
  values.push_back(value);
  // Longest first, so a secret containing another is hidden whole.
  std::sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  if (util::get_env("GITHUB_ACTIONS") == "true" && value.find('\n') == std::string::npos) {
    std::printf("::add-mask::%s\n", value.c_str());
    std::fflush(stdout);
  }
}

std::string redact(std::string_view text) {
  std::string result(text);
  {
    std::lock_guard lock(secrets_mutex);
    for (const auto& secret : secrets()) replace_all(result, secret);
  }
  static const std::regex authorization(R"((authorization:\s*)(basic|bearer)\s+[^\s"',]+)", std::regex::icase);
  static const std::regex fields(R"((["']?(password|secret|token|access_token|refresh_token|identitytoken)["']?\s*[:=]\s*"?)[^"&\s,}]+)",
                                 std::regex::icase);
  result = std::regex_replace(result, authorization, "$1$2 ****");
  result = std::regex_replace(result, fields, "$1****");
  return result;
}

}  // namespace multipush::output
