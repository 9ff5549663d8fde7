#include "config/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace multipush::config {

namespace {

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

// Levenshtein distance with adjacent transpositions counted as one edit.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t rows = a.size() + 1;
  const std::size_t columns = b.size() + 1;
  std::vector<std::size_t> d(rows * columns);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * columns + j]; };
  for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j < columns; ++j) at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < columns; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, columns - 1);
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string lower = to_lower(word);
  // Allow about one edit in three characters, and at least two.
  const std::size_t limit = std::max<std::size_t>(2, (lower.size() + 2) / 3);

  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    std::size_t distance = edit_distance(lower, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  if (best) return best;

  // "build-args" for "args", "file" for "dockerfile".
  for (std::string_view candidate : candidates) {
    if (candidate.size() < 4 || lower.size() < 4) continue;
    if (lower.find(candidate) != std::string::npos || candidate.find(lower) != std::string_view::npos) {
      return std::string(candidate);
    }
  }
  return std::nullopt;
}

std::string join_names(std::span<const std::string_view> candidates) {
  std::string joined;
  for (std::string_view candidate : candidates) {
    if (!joined.empty()) joined += ", ";
    joined += candidate;
  }
  return joined;
}

}  // namespace multipush::config
