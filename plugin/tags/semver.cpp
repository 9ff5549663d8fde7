#include "tags/semver.hpp"

#include <regex>

#include "tags/csv.hpp"

namespace multipush::tags {
namespace {

std::vector<std::string> split_dots(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = text.find('.', start);
    parts.push_back(text.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string join_dots(const std::vector<std::string>& parts) {
  std::string joined;
  for (const auto& part : parts) joined += (joined.empty() ? "" : ".") + part;
  return joined;
}

}  // namespace

std::string SemVer::version() const {
  std::string text = major + "." + minor + "." + patch;
  if (!prerelease.empty()) text += "-" + join_dots(prerelease);
  return text;
}

std::optional<SemVer> parse_semver(std::string_view text) {
  // node-semver rejects versions longer than 256 characters.
  if (text.size() > 256) return std::nullopt;

  static const std::regex pattern(
      R"(^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*))"
      R"((?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?)"
      R"((?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$)");
  std::string trimmed = trim(text);
  std::smatch match;
  if (!std::regex_match(trimmed, match, pattern)) return std::nullopt;

  // Components must stay below 2^53, JavaScript's largest safe integer.
  for (int i = 1; i <= 3; ++i) {
    const std::string number = match[i];
    if (number.size() > 16 || (number.size() == 16 && number > "9007199254740991")) return std::nullopt;
  }

  SemVer version;
  version.raw = trimmed;
  version.major = match[1];
  version.minor = match[2];
  version.patch = match[3];
  if (match[4].matched) version.prerelease = split_dots(match[4]);
  if (match[5].matched) version.build = split_dots(match[5]);
  return version;
}

}  // namespace multipush::tags
