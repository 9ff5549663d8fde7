#include "tags/js_regex.hpp"

namespace multipush::tags {
namespace {

// Rewrites the parts of a JavaScript pattern that std::regex reads
// differently: the s flag's '.', and named groups.
std::string translate(std::string_view pattern, bool dot_all) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += pattern.substr(i, 2);
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      continue;
    }
    if (c == '(' && pattern.substr(i).starts_with("(?<")) {
      if (pattern.substr(i).starts_with("(?<=") || pattern.substr(i).starts_with("(?<!")) {
        throw RegexError("lookbehind assertions (?<= and (?<! are not supported");
      }
      auto close = pattern.find('>', i);
      if (close == std::string_view::npos) throw RegexError("invalid named group");
      out.push_back('(');
      i = close;
      continue;
    }
    if (c == '.' && dot_all) {
      out += "[\\s\\S]";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

JsRegex::JsRegex(std::string_view pattern, std::string_view flags) {
  auto options = std::regex::ECMAScript;
  bool dot_all = false;
  std::string seen;
  for (char flag : flags) {
    if (std::string_view("dgimsuy").find(flag) == std::string_view::npos || seen.find(flag) != std::string::npos) {
      throw RegexError("invalid regular expression flags \"" + std::string(flags) +
                       "\"; use each of d, g, i, m, s, u, y at most once");
    }
    seen.push_back(flag);
    if (flag == 'g') global_ = true;
    if (flag == 'y') sticky_ = true;
    if (flag == 'i') options |= std::regex::icase;
    if (flag == 'm') options |= std::regex::multiline;
    if (flag == 's') dot_all = true;
  }
  try {
    regex_ = std::regex(translate(pattern, dot_all), options);
  } catch (const std::regex_error& e) {
    throw RegexError("invalid regular expression /" + std::string(pattern) + "/: " + e.what());
  }
}

std::optional<std::vector<std::optional<std::string>>> JsRegex::match(const std::string& text) const {
  std::vector<std::optional<std::string>> result;
  if (!global_) {
    std::smatch m;
    bool found = sticky_ ? std::regex_search(text, m, regex_, std::regex_constants::match_continuous)
                         : std::regex_search(text, m, regex_);
    if (!found) return std::nullopt;
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (m[i].matched) {
        result.emplace_back(m[i].str());
      } else {
        result.emplace_back(std::nullopt);
      }
    }
    return result;
  }
  // With g (and y), every match in turn; sticky stops at the first gap.
  auto begin = text.cbegin();
  auto flags = std::regex_constants::match_default;
  while (begin <= text.cend()) {
    std::smatch m;
    auto search_flags = flags | (sticky_ ? std::regex_constants::match_continuous : std::regex_constants::match_default);
    if (!std::regex_search(begin, text.cend(), m, regex_, search_flags)) break;
    result.emplace_back(m[0].str());
    auto next = m[0].second;
    if (m[0].length() == 0) {
      if (next == text.cend()) break;
      ++next;
    }
    begin = next;
    flags = std::regex_constants::match_prev_avail;
  }
  if (result.empty()) return std::nullopt;
  return result;
}

}  // namespace multipush::tags
