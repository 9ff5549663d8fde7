#include "config/expand.hpp"

#include <cctype>

namespace multipush::config {

namespace {

bool is_valid_variable_name(std::string_view name) {
  if (name.empty()) return false;
  auto first = static_cast<unsigned char>(name.front());
  if (std::isalpha(first) == 0 && first != '_') return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
  }
  return true;
}

}  // namespace

std::expected<std::string, std::string> expand_env(std::string_view text, const EnvLookup& lookup) {
  std::string result;
  result.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      result.push_back(c);
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      result.push_back('$');
      i += 2;
      continue;
    }
    if (next != '{') {
      result.push_back('$');
      ++i;
      continue;
    }

    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return std::unexpected("\"${\" is not closed; add \"}\", or write \"$$\" for a literal \"$\"");
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    bool fallback_when_empty = false;
    if (auto operator_at = body.find_first_of(":-"); operator_at != std::string_view::npos) {
      if (body.substr(operator_at, 2) == ":-") {
        name = body.substr(0, operator_at);
        fallback = body.substr(operator_at + 2);
        fallback_when_empty = true;
      } else if (body[operator_at] == '-') {
        name = body.substr(0, operator_at);
        fallback = body.substr(operator_at + 1);
      }
    }
    if (!is_valid_variable_name(name)) {
      return std::unexpected("\"${" + std::string(body) +
                             "}\" does not name a valid environment variable; write ${NAME} or ${NAME:-default} "
                             "with NAME made of letters, digits and \"_\", or \"$$\" for a literal \"$\"");
    }

    std::string variable(name);
    auto value = lookup(variable);
    bool use_fallback = !value.has_value() || (fallback_when_empty && value->empty());
    if (use_fallback && fallback) {
      result += *fallback;
    } else if (value) {
      result += *value;
    } else {
      return std::unexpected("environment variable " + variable + " is not set; export it or write ${" + variable +
                             ":-default}");
    }
    i = close + 1;
  }
  return result;
}

}  // namespace multipush::config
