#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace multipush::tags {

// A template that does not parse, or fails while rendering. The engine adds
// the rule or label it came from and rethrows it as a UsageError.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A helper argument; nullopt is JavaScript's undefined (an unquoted name
// that is not a variable).
using Argument = std::optional<std::string>;

struct HelperCall {
  std::vector<Argument> positional;
  std::vector<std::pair<std::string, Argument>> hash;  // key=value arguments, in order
};

using Helper = std::function<std::string(const HelperCall&)>;

// Names a template can use: plain values, and helpers that take arguments.
struct Scope {
  std::map<std::string, std::string, std::less<>> variables;
  std::map<std::string, Helper, std::less<>> helpers;
};

// The subset of Handlebars 4.7 that metadata-action templates use:
// `{{name}}` (HTML-escaped), `{{{name}}}` and `{{&name}}` (not escaped),
// helper calls with quoted, numeric or variable arguments and `key=value`
// hash arguments, comments, and `\{{` for a literal `{{`. Unknown names render
// as "". Throws TemplateError for a template that does not parse.
//
// TODO: block helpers ({{#if}}, {{else}}), partials, subexpressions and
// whitespace control (~) are rejected with TemplateError instead of rendered.
class Template {
 public:
  explicit Template(std::string_view text);

  std::string render(const Scope& scope) const;

  // True when the template is exactly one `{{name}}` expression without
  // arguments, as metadata-action's "pure raw statement" check for `raw`.
  bool is_single_name(std::string_view name) const;

 private:
  // A parameter: a literal (string, number, boolean, undefined) or a name
  // looked up in the scope when rendering.
  struct Param {
    bool is_literal = false;
    Argument value;  // the literal's value, or the name to look up
  };

  struct Node {
    bool is_expression = false;
    std::string text;  // literal text, or the expression's name
    std::vector<Param> params;
    std::vector<std::pair<std::string, Param>> hash;
    bool escape = true;
  };

  void parse_expression(std::string_view body, bool escape);
  static Argument evaluate(const Param& param, const Scope& scope);

  std::vector<Node> nodes_;
};

// Renders `text` as a template once.
std::string render(std::string_view text, const Scope& scope);

// Escapes & < > " ' ` = as Handlebars does for {{...}} output.
std::string escape_html(std::string_view text);

}  // namespace multipush::tags
