#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace multipush::config {

// Returns the candidate closest to `word` by edit distance when it is close
// enough to be a likely typo. Otherwise returns a candidate that contains
// `word` or is contained in it, or std::nullopt when there is none.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates);

// Returns the candidates as `a, b, c`.
std::string join_names(std::span<const std::string_view> candidates);

}  // namespace multipush::config
