#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace multipush::tags {

enum class RuleType { schedule, semver, pep440, match, edge, ref, raw, sha };

// One entry of the `tags` input after parsing and per-type defaults, e.g.
// "type=semver,pattern={{version}}". Attributes keep their text; unknown
// attributes are kept and ignored, as the action does.
struct Rule {
  std::string text;  // the entry as written, for error messages
  RuleType type = RuleType::raw;
  std::map<std::string, std::string> attributes;
  double priority = 0;

  bool has(const std::string& key) const { return attributes.contains(key); }
  const std::string& at(const std::string& key) const;  // "" when absent
};

// Parses the entries of the `tags` input (after list splitting) and sorts them
// by priority, highest first, keeping the input order for equal priorities.
// An empty list gives the action's default rules. Throws UsageError naming the
// entry for an invalid rule.
std::vector<Rule> parse_rules(const std::vector<std::string>& entries);

struct Flavor {
  std::string latest = "auto";  // auto, true or false
  std::string prefix;
  std::string suffix;
  bool prefix_on_latest = false;
  bool suffix_on_latest = false;
};

// Parses the entries of the `flavor` input. Throws UsageError naming the
// entry for an invalid one.
Flavor parse_flavor(const std::vector<std::string>& entries);

struct Image {
  std::string name;
  bool enabled = true;
};

// Parses the entries of the `images` input. A single entry whose fields have
// no '=' is a comma-separated list of names. Throws UsageError naming the
// entry for an invalid one.
std::vector<Image> parse_images(const std::vector<std::string>& entries);

// Converts `text` to a number as JavaScript's Number() does for decimal,
// exponent, hex, octal and binary forms ("" is 0); nullopt stands for NaN.
std::optional<double> parse_js_number(const std::string& text);

}  // namespace multipush::tags
