#include "tags/semver.hpp"


#include "tags/csv.hpp"

namespace multipush::tags {
namespace {

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
  const std::string trimmed = trim(text);
  std::string_view rest = trimmed;
  if (rest.starts_with('v')) rest.remove_prefix(1);

  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto is_identifier_char = [&](char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  };
  // A numeric part: 0, or digits without a leading zero.
  auto number = [&](std::string& out) {
    std::size_t length = 0;
    while (length < rest.size() && is_digit(rest[length])) ++length;
    if (length == 0 || (length > 1 && rest[0] == '0')) return false;
    out = std::string(rest.substr(0, length));
    rest.remove_prefix(length);
    // Components must stay below 2^53, JavaScript's largest safe integer.
    return out.size() < 16 || (out.size() == 16 && out <= "9007199254740991");
  };
  // Dot-separated identifiers up to `end`; a prerelease identifier made of
  // digits only must not have a leading zero.
  auto identifiers = [&](std::vector<std::string>& out, bool prerelease) {
    while (true) {
      std::size_t length = 0;
      while (length < rest.size() && is_identifier_char(rest[length])) ++length;
      if (length == 0) return false;
      std::string part(rest.substr(0, length));
      bool numeric = part.find_first_not_of("0123456789") == std::string::npos;
      if (prerelease && numeric && part.size() > 1 && part[0] == '0') return false;
      out.push_back(std::move(part));
      rest.remove_prefix(length);
      if (!rest.starts_with('.')) return true;
      rest.remove_prefix(1);
    }
  };

  SemVer version;
  version.raw = trimmed;
  if (!number(version.major) || !rest.starts_with('.')) return std::nullopt;
  rest.remove_prefix(1);
  if (!number(version.minor) || !rest.starts_with('.')) return std::nullopt;
  rest.remove_prefix(1);
  if (!number(version.patch)) return std::nullopt;
  if (rest.starts_with('-')) {
    rest.remove_prefix(1);
    if (!identifiers(version.prerelease, true)) return std::nullopt;
  }
  if (rest.starts_with('+')) {
    rest.remove_prefix(1);
    if (!identifiers(version.build, false)) return std::nullopt;
  }
  if (!rest.empty()) return std::nullopt;
  return version;
}

}  // namespace multipush::tags
