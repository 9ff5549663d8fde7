#include "multipush/output/redact.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
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

// Replaces every occurrence of every secret with "****". Occurrences are
// found in the original text and merged where they overlap or touch, so two
// overlapping secrets ("abcdef" and "defghi" in "abcdefghi") leave no part
// of either visible.
std::string hide_secrets(std::string_view text, const std::vector<std::string>& values) {
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end)
  for (const auto& secret : values) {
    for (size_t position = text.find(secret); position != std::string_view::npos;
         position = text.find(secret, position + 1)) {
      spans.emplace_back(position, position + secret.size());
    }
  }
  if (spans.empty()) return std::string(text);
  std::sort(spans.begin(), spans.end());

  std::string result;
  size_t copied = 0;
  size_t index = 0;
  while (index < spans.size()) {
    auto [begin, end] = spans[index];
    for (++index; index < spans.size() && spans[index].first <= end; ++index) {
      end = std::max(end, spans[index].second);
    }
    result.append(text.substr(copied, begin - copied));
    result.append("****");
    copied = end;
  }
  result.append(text.substr(copied));
  return result;
}

bool is_secret_key(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::set<std::string> names{"password",      "secret",        "token",        "access_token",
                                           "refresh_token", "identitytoken", "authorization"};
  return names.contains(key);
}

}  // namespace

void register_secret(std::string_view secret) {
  if (secret.size() < 4) return;
  std::lock_guard lock(secrets_mutex);
  auto& values = secrets();
  std::string value(secret);
  if (std::find(values.begin(), values.end(), value) != values.end()) return;
  values.push_back(value);
  if (util::get_env("GITHUB_ACTIONS") == "true") {
    // A workflow command ends at the line break, so each line of a
    // multi-line secret is masked on its own.
    size_t begin = 0;
    while (begin <= value.size()) {
      size_t end = value.find('\n', begin);
      if (end == std::string::npos) end = value.size();
      std::string line = value.substr(begin, end - begin);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) std::fprintf(stderr, "::add-mask::%s\n", line.c_str());
      begin = end + 1;
    }
    std::fflush(stderr);
  }
}

namespace {

bool contains_ignoring_case(std::string_view text, std::string_view needle) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  auto found = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                           [&lower](char a, char b) { return lower(a) == lower(b); });
  return found != text.end();
}

}  // namespace

std::string redact(std::string_view text) {
  std::string result;
  {
    std::lock_guard lock(secrets_mutex);
    result = hide_secrets(text, secrets());
  }
  static const std::regex authorization(R"((authorization:\s*)(basic|bearer|token)\s+[^\s"',]+)",
                                        std::regex::icase);
  static const std::regex fields(
      R"((["']?(password|secret|token|access_token|refresh_token|identitytoken)["']?\s*[:=]\s*"?)[^"&\s,}]+)",
      std::regex::icase);
  // The regular expressions cost far more than the scan for their keywords,
  // and most text (tags, digests, progress lines) has none of them.
  if (contains_ignoring_case(result, "authorization")) {
    result = std::regex_replace(result, authorization, "$1$2 ****");
  }
  if (contains_ignoring_case(result, "password") || contains_ignoring_case(result, "secret") ||
      contains_ignoring_case(result, "token")) {
    result = std::regex_replace(result, fields, "$1****");
  }
  return result;
}

nlohmann::json redact_json(const nlohmann::json& value) {
  if (value.is_string()) return redact(value.get_ref<const std::string&>());
  if (value.is_array()) {
    auto result = nlohmann::json::array();
    for (const auto& item : value) result.push_back(redact_json(item));
    return result;
  }
  if (value.is_object()) {
    auto result = nlohmann::json::object();
    for (const auto& [key, item] : value.items()) {
      if (item.is_string() && is_secret_key(key)) {
        result[redact(key)] = "****";
      } else {
        result[redact(key)] = redact_json(item);
      }
    }
    return result;
  }
  return value;
}

}  // namespace multipush::output
