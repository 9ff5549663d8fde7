#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace multipush::tags {

// A version that PEP 440 accepts, as the @renovate/pep440 library that
// metadata-action uses reads it (case-insensitive, optional leading "v",
// the alternative spellings of pre-, post- and dev-releases).
struct Pep440 {
  std::string epoch;                 // "0" when absent
  std::vector<std::string> release;  // numbers without leading zeros
  std::string pre;                   // "b2", "rc0", or ""
  std::string post;                  // "post1", or ""
  std::string dev;                   // "dev4", or ""
  std::vector<std::string> local;    // lower-cased; numeric parts without leading zeros

  bool is_prerelease() const { return !pre.empty() || !dev.empty(); }
  bool is_postrelease() const { return !post.empty(); }
  bool is_devrelease() const { return !dev.empty(); }

  // The library's normalised form, e.g. "1!2.0b1.post2.dev3+abc,1". The
  // local parts are joined with ',' because the library joins an array.
  std::string clean() const;

  // Release segment `index` (0: major, 1: minor, 2: patch), "0" when missing.
  std::string segment(std::size_t index) const;
};

// Parses `text` exactly (no surrounding whitespace), or returns nullopt when
// it is not a valid PEP 440 version.
std::optional<Pep440> parse_pep440(std::string_view text);

}  // namespace multipush::tags
