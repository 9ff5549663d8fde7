#include "tags/labels.hpp"

#include <array>
#include <cctype>
#include <map>
#include <string_view>

namespace multipush::tags {
namespace {

// Primary weights of printable ASCII under ICU root collation, lowest
// first; upper-case letters weigh the same as lower-case.
constexpr std::string_view kCollationOrder =
    " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";

int primary_weight(unsigned char c) {
  static const std::array<int, 256> weights = [] {
    std::array<int, 256> table{};
    for (int byte = 0; byte < 256; ++byte) table[byte] = 1000 + byte;  // outside printable ASCII
    for (std::size_t i = 0; i < kCollationOrder.size(); ++i) {
      auto byte = static_cast<unsigned char>(kCollationOrder[i]);
      table[byte] = static_cast<int>(i);
      if (std::islower(byte)) table[std::toupper(byte)] = static_cast<int>(i);
    }
    return table;
  }();
  return weights[c];
}

}  // namespace

bool collation_less(const std::string& a, const std::string& b) {
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) {
    int wa = primary_weight(static_cast<unsigned char>(a[i]));
    int wb = primary_weight(static_cast<unsigned char>(b[i]));
    if (wa != wb) return wa < wb;
  }
  if (a.size() != b.size()) return a.size() < b.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return std::islower(static_cast<unsigned char>(a[i])) != 0;
  }
  return false;
}

Labels build_labels(const Labels& defaults, const std::vector<std::string>& entries, const Scope& scope) {
  using Comparator = bool (*)(const std::string&, const std::string&);
  std::map<std::string, std::string, Comparator> merged(&collation_less);
  for (const auto& [key, value] : defaults) merged[key] = value;

  for (const auto& entry : entries) {
    std::string line = render(entry, scope);
    auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    merged[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return Labels(merged.begin(), merged.end());
}

}  // namespace multipush::tags
