#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace multipush::tags {

// A regular expression with JavaScript's RegExp semantics as far as
// metadata-action's `match` rules need them, on top of std::regex's
// ECMAScript grammar. Flags: i (ignore case), m (multiline), s (. matches
// line breaks), y (sticky: the match starts at index 0), g (global), and d
// and u, which change nothing here.
//
// NOTE: lookbehind assertions are rejected with RegexError, and named groups
// (?<name>...) count as plain numbered groups; std::regex has neither.
class JsRegex {
 public:
  // Throws RegexError for a pattern that does not compile, or for flags
  // other than d, g, i, m, s, u, y, or a flag given twice.
  JsRegex(std::string_view pattern, std::string_view flags);

  // String.prototype.match: without the g flag, the whole match followed by
  // every capture group (nullopt for a group that did not take part); with
  // it, every whole match. nullopt when nothing matches.
  std::optional<std::vector<std::optional<std::string>>> match(const std::string& text) const;

  std::size_t group_count() const { return regex_.mark_count(); }

 private:
  std::regex regex_;
  bool global_ = false;
  bool sticky_ = false;
};

class RegexError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace multipush::tags
