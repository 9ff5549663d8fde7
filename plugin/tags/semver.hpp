#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace multipush::tags {

// A version that node-semver 7 accepts as valid in strict mode: an optional
// "v", MAJOR.MINOR.PATCH without leading zeros, then optional -prerelease and
// +build identifiers.
struct SemVer {
  std::string raw;  // the text as parsed
  std::string major, minor, patch;
  std::vector<std::string> prerelease;
  std::vector<std::string> build;

  // MAJOR.MINOR.PATCH[-prerelease], without build metadata.
  std::string version() const;
};

// Parses `text` (surrounding whitespace ignored), or returns nullopt when it
// is not a valid strict semantic version.
std::optional<SemVer> parse_semver(std::string_view text);

}  // namespace multipush::tags
