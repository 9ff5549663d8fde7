#pragma once

#include <functional>
#include <map>
#include <memory>
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

// A typed template value, for the fields of a parsed version: numbers are
// falsy when zero in {{#if}}, arrays render comma-joined and {{#each}} walks
// them.
struct Value {
  enum class Kind { undefined, string, number, boolean, array };
  Kind kind = Kind::undefined;
  std::string text;          // string, or the number as JavaScript prints it
  bool flag = false;         // boolean
  std::vector<Value> items;  // array

  static Value string(std::string text) { return {Kind::string, std::move(text), false, {}}; }
  static Value number(std::string text) { return {Kind::number, std::move(text), false, {}}; }
  static Value boolean(bool value) { return {Kind::boolean, {}, value, {}}; }
  static Value array(std::vector<Value> items) { return {Kind::array, {}, false, std::move(items)}; }

  // The text JavaScript's String() gives; undefined renders as "".
  std::string to_string() const;
  // Handlebars truthiness: "", 0, false, undefined and [] are falsy.
  bool truthy() const;
};

// Names a template can use: typed values, plain string values, and helpers
// that take arguments. A name is looked up in that order.
struct Scope {
  std::map<std::string, Value, std::less<>> values;
  std::map<std::string, std::string, std::less<>> variables;
  std::map<std::string, Helper, std::less<>> helpers;
};

// The subset of Handlebars 4.7 that metadata-action templates use:
// `{{name}}` (HTML-escaped), `{{{name}}}` and `{{&name}}` (not escaped),
// helper calls with quoted, numeric or variable arguments, `key=value` hash
// arguments and (subexpressions), comments, `\{{` for a literal `{{`,
// whitespace control with `~`, and the block helpers #if, #unless (with
// {{else}} and {{else if ...}}), #each, #with, inverted sections {{^name}},
// and the lookup helper. Unknown names render as "". Throws TemplateError
// for a template that does not parse, and for a partial or decorator, which
// no metadata-action template can resolve.
//
// NOTE: Handlebars removes the whitespace around a block tag that is alone
// on its line. Every template here is one line of an input list, so this
// rule never applies and is not implemented.
class Template {
 public:
  explicit Template(std::string_view text);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  std::string render(const Scope& scope) const;

  // True when the template is exactly one mustache whose path is the single
  // name `name` (arguments allowed), as metadata-action's "pure raw
  // statement" check for `raw`.
  bool is_single_name(std::string_view name) const;

  struct Program;

 private:
  std::unique_ptr<Program> program_;
};

// Renders `text` as a template once.
std::string render(std::string_view text, const Scope& scope);

// Escapes & < > " ' ` = as Handlebars does for {{...}} output.
std::string escape_html(std::string_view text);

}  // namespace multipush::tags
