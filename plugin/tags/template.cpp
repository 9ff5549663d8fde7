#include "tags/template.hpp"

#include <cctype>
#include <regex>

#include "tags/csv.hpp"

namespace multipush::tags {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Reads a string literal that starts at body[pos] (' or "), with \' or \"
// standing for the quote. Advances pos past the closing quote.
std::string read_string_literal(std::string_view body, std::size_t& pos) {
  const char quote = body[pos++];
  std::string value;
  while (pos < body.size()) {
    char c = body[pos++];
    if (c == '\\' && pos < body.size() && body[pos] == quote) {
      value.push_back(quote);
      ++pos;
    } else if (c == quote) {
      return value;
    } else {
      value.push_back(c);
    }
  }
  throw TemplateError("unclosed string in {{" + std::string(body) + "}}");
}

std::string read_bare_token(std::string_view body, std::size_t& pos, bool stop_at_equals) {
  std::size_t start = pos;
  while (pos < body.size() && !is_space(body[pos]) && !(stop_at_equals && body[pos] == '=')) {
    if (body[pos] == '(' || body[pos] == ')') {
      throw TemplateError("subexpressions are not supported in {{" + std::string(body) + "}}");
    }
    ++pos;
  }
  return std::string(body.substr(start, pos - start));
}

// Strips the `this.` and `./` forms that name the same scope entry.
std::string normalise_path(std::string path) {
  if (path.starts_with("this.")) return path.substr(5);
  if (path.starts_with("./")) return path.substr(2);
  return path;
}

}  // namespace

std::string escape_html(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#x27;"; break;
      case '`': escaped += "&#x60;"; break;
      case '=': escaped += "&#x3D;"; break;
      default: escaped.push_back(c);
    }
  }
  return escaped;
}

Template::Template(std::string_view text) {
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    Node node;
    node.text = std::move(literal);
    nodes_.push_back(std::move(node));
    literal.clear();
  };

  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal += text.substr(pos);
      break;
    }
    if (open > pos && text[open - 1] == '\\') {
      literal += text.substr(pos, open - 1 - pos);
      literal += "{{";
      pos = open + 2;
      continue;
    }
    literal += text.substr(pos, open - pos);
    flush_literal();

    std::string_view rest = text.substr(open);
    std::size_t close;
    if (rest.starts_with("{{!--")) {
      close = text.find("--}}", open + 5);
      if (close == std::string_view::npos) throw TemplateError("unclosed comment in " + quoted(text));
      pos = close + 4;
    } else if (rest.starts_with("{{!")) {
      close = text.find("}}", open + 3);
      if (close == std::string_view::npos) throw TemplateError("unclosed comment in " + quoted(text));
      pos = close + 2;
    } else if (rest.starts_with("{{{")) {
      close = text.find("}}}", open + 3);
      if (close == std::string_view::npos) throw TemplateError("missing }}} in " + quoted(text));
      parse_expression(text.substr(open + 3, close - open - 3), false);
      pos = close + 3;
    } else {
      close = text.find("}}", open + 2);
      if (close == std::string_view::npos) throw TemplateError("missing }} in " + quoted(text));
      std::string_view body = text.substr(open + 2, close - open - 2);
      bool escape = true;
      if (body.starts_with('&')) {
        body.remove_prefix(1);
        escape = false;
      }
      parse_expression(body, escape);
      pos = close + 2;
    }
  }
  flush_literal();
}

void Template::parse_expression(std::string_view body, bool escape) {
  std::string trimmed = trim(body);
  if (trimmed.empty()) throw TemplateError("empty expression {{" + std::string(body) + "}}");
  const char first = trimmed.front();
  if (first == '#' || first == '/' || first == '^' || first == '>' || first == '~' || trimmed.back() == '~' ||
      trimmed == "else" || trimmed.starts_with("else ")) {
    throw TemplateError("{{" + std::string(body) +
                        "}} uses a block helper, partial or whitespace control, which are not supported yet");
  }

  Node node;
  node.is_expression = true;
  node.escape = escape;
  std::string_view view = trimmed;
  std::size_t pos = 0;
  node.text = normalise_path(read_bare_token(view, pos, false));

  auto read_param = [&](std::size_t& at) -> Param {
    if (view[at] == '\'' || view[at] == '"') return Param{true, read_string_literal(view, at)};
    std::string token = read_bare_token(view, at, false);
    static const std::regex number(R"(-?[0-9]+(\.[0-9]+)?)");
    if (std::regex_match(token, number) || token == "true" || token == "false") return Param{true, token};
    if (token == "null" || token == "undefined") return Param{true, std::nullopt};
    return Param{false, normalise_path(token)};
  };

  while (true) {
    while (pos < view.size() && is_space(view[pos])) ++pos;
    if (pos >= view.size()) break;

    // A hash argument is a bare key followed directly by '='.
    std::size_t key_end = pos;
    while (key_end < view.size() && !is_space(view[key_end]) && view[key_end] != '=' && view[key_end] != '\'' &&
           view[key_end] != '"') {
      ++key_end;
    }
    if (key_end < view.size() && key_end > pos && view[key_end] == '=') {
      std::string key(view.substr(pos, key_end - pos));
      pos = key_end + 1;
      if (pos >= view.size() || is_space(view[pos])) {
        throw TemplateError("missing value for " + key + "= in {{" + std::string(body) + "}}");
      }
      node.hash.emplace_back(key, read_param(pos));
      continue;
    }
    if (!node.hash.empty()) {
      throw TemplateError("positional argument after a key=value argument in {{" + std::string(body) + "}}");
    }
    node.params.push_back(read_param(pos));
  }
  nodes_.push_back(std::move(node));
}

Argument Template::evaluate(const Param& param, const Scope& scope) {
  if (param.is_literal) return param.value;
  auto it = scope.variables.find(*param.value);
  if (it == scope.variables.end()) return std::nullopt;
  return it->second;
}

std::string Template::render(const Scope& scope) const {
  std::string output;
  for (const auto& node : nodes_) {
    if (!node.is_expression) {
      output += node.text;
      continue;
    }

    std::string value;
    if (auto helper = scope.helpers.find(node.text); helper != scope.helpers.end()) {
      HelperCall call;
      for (const auto& param : node.params) call.positional.push_back(evaluate(param, scope));
      for (const auto& [key, param] : node.hash) call.hash.emplace_back(key, evaluate(param, scope));
      value = helper->second(call);
    } else if (!node.params.empty() || !node.hash.empty()) {
      throw TemplateError("missing helper \"" + node.text + "\"");
    } else if (auto variable = scope.variables.find(node.text); variable != scope.variables.end()) {
      value = variable->second;
    }
    output += node.escape ? escape_html(value) : value;
  }
  return output;
}

bool Template::is_single_name(std::string_view name) const {
  return nodes_.size() == 1 && nodes_[0].is_expression && nodes_[0].text == name && nodes_[0].params.empty() &&
         nodes_[0].hash.empty();
}

std::string render(std::string_view text, const Scope& scope) { return Template(text).render(scope); }

}  // namespace multipush::tags
