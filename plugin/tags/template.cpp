#include "tags/template.hpp"

#include <cctype>
#include <cstddef>

#include "tags/csv.hpp"

namespace multipush::tags {

namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

struct Expression;

// A path such as `branch`, `this`, `../tag`, `prerelease.length` or `@index`.
struct Path {
  int depth = 0;                   // number of leading ../
  std::vector<std::string> parts;  // without this/. segments
  bool data = false;               // @name
  std::string original;
};

struct Param {
  enum class Kind { literal, path, subexpression };
  Kind kind = Kind::literal;
  Value literal;
  Path path;
  std::shared_ptr<Expression> subexpression;
};

struct Expression {
  Path path;
  std::vector<Param> params;
  std::vector<std::pair<std::string, Param>> hash;
  std::string text;  // the source, for error messages
};

}  // namespace

namespace {

struct Node {
  enum class Kind { text, mustache, block, comment };
  Kind kind = Kind::text;
  std::string text;
  Expression expression;
  bool escape = true;
  bool inverted = false;  // {{^name}}: the body is the inverse
  std::shared_ptr<Template::Program> program;
  std::shared_ptr<Template::Program> inverse;
};

}  // namespace

struct Template::Program {
  std::vector<Node> nodes;
};

namespace {

// ---------------------------------------------------------------- values

std::string join_values(const std::vector<Value>& items) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ',';
    text += items[i].to_string();
  }
  return text;
}

// ---------------------------------------------------------------- lexing

// One `{{...}}` tag or a run of text.
struct Token {
  enum class Kind { text, comment, mustache, open_block, open_inverse, else_, close };
  Kind kind = Kind::text;
  std::string text;  // text, or the tag body without markers
  bool escape = true;
  bool strip_left = false;   // {{~
  bool strip_right = false;  // ~}}
};

// Finds the end of a tag body that starts at `pos`, skipping quoted strings.
std::size_t find_tag_end(std::string_view text, std::size_t pos, std::string_view close) {
  char quote = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == '\\' && i + 1 < text.size()) {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (text.substr(i).starts_with(close)) return i;
    if (text.substr(i).starts_with(std::string("~") + std::string(close))) return i;
  }
  return std::string_view::npos;
}

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    tokens.push_back(Token{Token::Kind::text, std::move(literal)});
    literal.clear();
  };

  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal += text.substr(pos);
      break;
    }
    // `\{{` is a literal `{{`; `\\{{` is a backslash before a real tag.
    std::size_t backslashes = 0;
    while (open - backslashes > pos && text[open - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 1) {
      literal += text.substr(pos, open - pos - 1);
      literal += "{{";
      pos = open + 2;
      continue;
    }
    literal += text.substr(pos, open - pos - backslashes / 2);
    flush();

    Token token;
    std::size_t start = open + 2;
    std::string_view close = "}}";
    if (text.substr(start).starts_with("{{")) {
      throw TemplateError("raw blocks {{{{...}}}} are not supported in " + quoted(text));
    }
    if (start < text.size() && text[start] == '{') {
      token.escape = false;
      close = "}}}";
      ++start;
    }
    if (start < text.size() && text[start] == '~') {
      token.strip_left = true;
      ++start;
    }

    std::size_t end;
    if (close == "}}" && text.substr(start).starts_with("!--")) {
      end = text.find("--", start + 3);
      while (end != std::string_view::npos && !text.substr(end + 2).starts_with("}}") &&
             !text.substr(end + 2).starts_with("~}}")) {
        end = text.find("--", end + 1);
      }
      if (end == std::string_view::npos) throw TemplateError("unclosed comment in " + quoted(text));
      token.kind = Token::Kind::comment;
      pos = end + 2;
    } else if (close == "}}" && start < text.size() && text[start] == '!') {
      end = text.find("}}", start);
      if (end == std::string_view::npos) throw TemplateError("unclosed comment in " + quoted(text));
      token.kind = Token::Kind::comment;
      pos = end;
      if (end > start && text[end - 1] == '~') token.strip_right = true;
    } else {
      end = find_tag_end(text, start, close);
      if (end == std::string_view::npos) throw TemplateError("missing " + std::string(close) + " in " + quoted(text));
      pos = end;
    }
    if (text.substr(pos).starts_with("~")) {
      token.strip_right = true;
      ++pos;
    }
    std::string body(text.substr(start, end - start));
    pos += close.size();
    if (token.kind == Token::Kind::comment) {
      tokens.push_back(std::move(token));
      continue;
    }

    std::string trimmed = trim(body);
    token.kind = Token::Kind::mustache;
    if (!token.escape) {
      token.text = trimmed;
    } else if (trimmed.starts_with('&')) {
      token.escape = false;
      token.text = trim(std::string_view(trimmed).substr(1));
    } else if (trimmed.starts_with("#>") || trimmed.starts_with('>')) {
      throw TemplateError("partials are not supported: {{" + body + "}} in " + quoted(text));
    } else if (trimmed.starts_with("#*") || trimmed.starts_with('*')) {
      throw TemplateError("decorators are not supported: {{" + body + "}} in " + quoted(text));
    } else if (trimmed.starts_with('#')) {
      token.kind = Token::Kind::open_block;
      token.text = trim(std::string_view(trimmed).substr(1));
    } else if (trimmed.starts_with('^')) {
      std::string rest = trim(std::string_view(trimmed).substr(1));
      token.kind = rest.empty() ? Token::Kind::else_ : Token::Kind::open_inverse;
      token.text = rest;
    } else if (trimmed.starts_with('/')) {
      token.kind = Token::Kind::close;
      token.text = trim(std::string_view(trimmed).substr(1));
    } else if (trimmed == "else" || (trimmed.starts_with("else") && trimmed.size() > 4 && is_space(trimmed[4]))) {
      token.kind = Token::Kind::else_;
      token.text = trim(std::string_view(trimmed).substr(4));
    } else {
      token.text = trimmed;
    }
    tokens.push_back(std::move(token));
  }
  flush();

  // Whitespace control: `{{~` trims the text before, `~}}` the text after.
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind == Token::Kind::text) continue;
    if (tokens[i].strip_left && i > 0 && tokens[i - 1].kind == Token::Kind::text) {
      auto& previous = tokens[i - 1].text;
      while (!previous.empty() && is_space(previous.back())) previous.pop_back();
    }
    if (tokens[i].strip_right && i + 1 < tokens.size() && tokens[i + 1].kind == Token::Kind::text) {
      auto& next = tokens[i + 1].text;
      std::size_t first = 0;
      while (first < next.size() && is_space(next[first])) ++first;
      next.erase(0, first);
    }
  }
  return tokens;
}

// ---------------------------------------------------------------- expressions

class ExpressionParser {
 public:
  ExpressionParser(std::string_view body, std::string_view source) : body_(body), source_(source) {}

  Expression parse() {
    Expression expression = parse_call(false);
    skip_space();
    if (pos_ < body_.size()) fail("unexpected \"" + std::string(body_.substr(pos_)) + "\"");
    return expression;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw TemplateError(problem + " in {{" + std::string(body_) + "}} of " + quoted(source_));
  }

  void skip_space() {
    while (pos_ < body_.size() && is_space(body_[pos_])) ++pos_;
  }

  bool at_end_of_call() const { return pos_ >= body_.size() || body_[pos_] == ')'; }

  // name param... key=value...
  Expression parse_call(bool nested) {
    Expression expression;
    std::size_t start = pos_;
    skip_space();
    if (at_end_of_call()) fail("empty expression");
    Param head = parse_param();
    if (head.kind == Param::Kind::subexpression) fail("a subexpression cannot be called");
    if (head.kind == Param::Kind::literal) {
      // A literal in name position names a context property, as in {{'name'}}.
      expression.path.parts = {head.literal.to_string()};
      expression.path.original = head.literal.to_string();
    } else {
      expression.path = head.path;
    }
    while (true) {
      skip_space();
      if (at_end_of_call()) break;
      std::size_t key_end = pos_;
      while (key_end < body_.size() && !is_space(body_[key_end]) && body_[key_end] != '=' &&
             body_[key_end] != '(' && body_[key_end] != ')' && body_[key_end] != '\'' && body_[key_end] != '"') {
        ++key_end;
      }
      if (key_end < body_.size() && key_end > pos_ && body_[key_end] == '=') {
        std::string key(body_.substr(pos_, key_end - pos_));
        pos_ = key_end + 1;
        skip_space();
        if (at_end_of_call()) fail("missing value for " + key + "=");
        expression.hash.emplace_back(key, parse_param());
        continue;
      }
      if (!expression.hash.empty()) fail("a positional argument after a key=value argument");
      expression.params.push_back(parse_param());
    }
    if (nested) {
      if (pos_ >= body_.size()) fail("missing )");
      ++pos_;
    }
    expression.text = std::string(body_.substr(start, pos_ - start));
    return expression;
  }

  Param parse_param() {
    Param param;
    char c = body_[pos_];
    if (c == '(') {
      ++pos_;
      param.kind = Param::Kind::subexpression;
      param.subexpression = std::make_shared<Expression>(parse_call(true));
      return param;
    }
    if (c == '\'' || c == '"') {
      param.literal = Value::string(read_string());
      return param;
    }
    std::string word = read_word();
    if (word.empty()) fail("unexpected \"" + std::string(1, c) + "\"");
    bool number = true;
    std::size_t digits_start = word[0] == '-' ? 1 : 0;
    bool dot = false;
    if (digits_start >= word.size()) number = false;
    for (std::size_t i = digits_start; number && i < word.size(); ++i) {
      if (word[i] == '.' && !dot && i > digits_start && i + 1 < word.size()) {
        dot = true;
      } else if (!std::isdigit(static_cast<unsigned char>(word[i]))) {
        number = false;
      }
    }
    if (number) {
      param.literal = Value::number(word);
    } else if (word == "true" || word == "false") {
      param.literal = Value::boolean(word == "true");
    } else if (word == "undefined" || word == "null") {
      param.literal = Value{};
    } else {
      param.kind = Param::Kind::path;
      param.path = parse_path(word);
    }
    return param;
  }

  std::string read_string() {
    const char quote = body_[pos_++];
    std::string value;
    while (pos_ < body_.size()) {
      char c = body_[pos_++];
      if (c == '\\' && pos_ < body_.size() && body_[pos_] == quote) {
        value.push_back(quote);
        ++pos_;
      } else if (c == quote) {
        return value;
      } else {
        value.push_back(c);
      }
    }
    fail("unclosed string");
  }

  // A path or literal word; [segment] may hold any character but ].
  std::string read_word() {
    std::string word;
    while (pos_ < body_.size()) {
      char c = body_[pos_];
      if (c == '[') {
        auto close = body_.find(']', pos_);
        if (close == std::string_view::npos) fail("missing ]");
        word += body_.substr(pos_, close - pos_ + 1);
        pos_ = close + 1;
        continue;
      }
      if (is_space(c) || c == '(' || c == ')' || c == '=' || c == '\'' || c == '"') break;
      word.push_back(c);
      ++pos_;
    }
    return word;
  }

  Path parse_path(const std::string& word) {
    Path path;
    path.original = word;
    std::string_view rest = word;
    if (rest.starts_with('@')) {
      path.data = true;
      rest.remove_prefix(1);
    }
    std::vector<std::string> segments;
    std::string segment;
    bool bracketed = false;
    for (std::size_t i = 0; i <= rest.size(); ++i) {
      if (i < rest.size() && rest[i] == '[') {
        auto close = rest.find(']', i);
        segment += rest.substr(i + 1, close - i - 1);
        bracketed = true;
        i = close;
        continue;
      }
      if (i == rest.size() || rest[i] == '.' || rest[i] == '/') {
        // `..` is a segment of its own; a '.' directly after another '.' belongs to it.
        if (i < rest.size() && rest[i] == '.' && segment == "." ) {
          segment = "..";
          continue;
        }
        if (i < rest.size() && rest[i] == '.' && segment.empty() && !bracketed) {
          segment = ".";
          continue;
        }
        segments.push_back(segment);
        segment.clear();
        bracketed = false;
        continue;
      }
      segment.push_back(rest[i]);
    }
    for (const auto& part : segments) {
      if (part.empty()) continue;
      if (part == "..") {
        if (!path.parts.empty()) fail("invalid path " + quoted(word));
        ++path.depth;
      } else if (part == "." || part == "this") {
        if (!path.parts.empty()) fail("invalid path " + quoted(word));
      } else {
        path.parts.push_back(part);
      }
    }
    return path;
  }

  std::string_view body_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------- parsing

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view source) : tokens_(std::move(tokens)), source_(source) {}

  std::shared_ptr<Template::Program> parse() {
    auto program = std::make_shared<Template::Program>();
    std::string stop = parse_program(*program, nullptr);
    if (!stop.empty()) throw TemplateError("{{" + stop + "}} without an open block in " + quoted(source_));
    return program;
  }

 private:
  Expression expression(const std::string& body) { return ExpressionParser(body, source_).parse(); }

  // Parses nodes into `program` until {{else}} or {{/...}}; returns the
  // stopping tag's text ("else ..." or "/name"), or "" at the end.
  std::string parse_program(Template::Program& program, const std::string* open_name) {
    while (pos_ < tokens_.size()) {
      Token& token = tokens_[pos_++];
      switch (token.kind) {
        case Token::Kind::text: {
          Node node;
          node.text = token.text;
          program.nodes.push_back(std::move(node));
          break;
        }
        case Token::Kind::comment: {
          Node node;
          node.kind = Node::Kind::comment;
          program.nodes.push_back(std::move(node));
          break;
        }
        case Token::Kind::mustache: {
          Node node;
          node.kind = Node::Kind::mustache;
          node.escape = token.escape;
          node.expression = expression(token.text);
          program.nodes.push_back(std::move(node));
          break;
        }
        case Token::Kind::open_block:
        case Token::Kind::open_inverse:
          program.nodes.push_back(parse_block(expression(token.text), token.kind == Token::Kind::open_inverse));
          break;
        case Token::Kind::else_:
          if (open_name == nullptr) throw TemplateError("{{else}} outside a block in " + quoted(source_));
          return "else " + token.text;
        case Token::Kind::close:
          if (open_name == nullptr) {
            throw TemplateError("{{/" + token.text + "}} without an open block in " + quoted(source_));
          }
          return "/" + token.text;
      }
    }
    if (open_name != nullptr) throw TemplateError("{{#" + *open_name + "}} is never closed in " + quoted(source_));
    return {};
  }

  // Parses a block up to its close tag, which must name `close_name` (the
  // outermost block of an {{else if}} chain).
  Node parse_block(Expression open, bool inverted, const std::string* close_name = nullptr) {
    Node node;
    node.kind = Node::Kind::block;
    node.inverted = inverted;
    const std::string name = close_name != nullptr ? *close_name : open.path.original;
    node.expression = std::move(open);
    node.program = std::make_shared<Template::Program>();
    std::string stop = parse_program(*node.program, &name);
    if (stop.starts_with("else")) {
      node.inverse = std::make_shared<Template::Program>();
      std::string chained = trim(std::string_view(stop).substr(4));
      if (!chained.empty()) {
        // {{else if x}} opens a nested block that the outer close tag ends.
        node.inverse->nodes.push_back(parse_block(expression(chained), false, &name));
        return node;
      }
      stop = parse_program(*node.inverse, &name);
      if (stop.starts_with("else")) {
        throw TemplateError("a second {{else}} in {{#" + name + "}} of " + quoted(source_));
      }
    }
    if (trim(std::string_view(stop).substr(1)) != name) {
      throw TemplateError("{{#" + name + "}} is closed by {{" + stop + "}} in " + quoted(source_));
    }
    return node;
  }

  std::vector<Token> tokens_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------- rendering

struct Frame {
  const Value* self = nullptr;  // null at the root, whose names are the scope
  std::optional<Value> index, first, last;
};

class Renderer {
 public:
  explicit Renderer(const Scope& scope) : scope_(scope) { frames_.push_back(Frame{}); }

  std::string program(const Template::Program& program) {
    std::string output;
    for (const auto& node : program.nodes) output += render_node(node);
    return output;
  }

 private:
  std::string render_node(const Node& node) {
    switch (node.kind) {
      case Node::Kind::text: return node.text;
      case Node::Kind::comment: return {};
      case Node::Kind::mustache: {
        std::string value = mustache(node.expression);
        return node.escape ? escape_html(value) : value;
      }
      case Node::Kind::block: return block(node);
    }
    return {};
  }

  bool is_simple(const Path& path) const { return !path.data && path.depth == 0 && path.parts.size() == 1; }

  const Helper* helper(const Path& path) const {
    if (!is_simple(path)) return nullptr;
    // Inside #each or #with the context changes, but helpers stay visible.
    auto it = scope_.helpers.find(path.parts[0]);
    return it == scope_.helpers.end() ? nullptr : &it->second;
  }

  std::string call(const Helper& helper, const Expression& expression) {
    HelperCall call;
    for (const auto& param : expression.params) call.positional.push_back(argument(param));
    for (const auto& [key, param] : expression.hash) call.hash.emplace_back(key, argument(param));
    return helper(call);
  }

  Argument argument(const Param& param) {
    Value value = evaluate(param);
    if (value.kind == Value::Kind::undefined) return std::nullopt;
    return value.to_string();
  }

  Value evaluate(const Param& param) {
    switch (param.kind) {
      case Param::Kind::literal: return param.literal;
      case Param::Kind::subexpression: return Value::string(mustache(*param.subexpression));
      case Param::Kind::path: break;
    }
    return lookup(param.path);
  }

  static Value property(const Value& value, const std::string& name) {
    if (name == "length" && value.kind == Value::Kind::string) return Value::number(std::to_string(value.text.size()));
    if (value.kind != Value::Kind::array) return {};
    if (name == "length") return Value::number(std::to_string(value.items.size()));
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) return {};
    if (name.size() > 1 && name[0] == '0') return {};
    std::size_t index = std::stoul(name);
    return index < value.items.size() ? value.items[index] : Value{};
  }

  Value lookup(const Path& path) {
    std::size_t level = frames_.size() - 1 - std::min<std::size_t>(path.depth, frames_.size() - 1);
    const Frame& frame = frames_[level];
    if (path.data) {
      if (path.parts.empty()) return {};
      const std::string& name = path.parts[0];
      if (name == "root") return path.parts.size() == 1 ? Value::string("[object Object]") : root_lookup(path, 1);
      for (std::size_t i = frames_.size(); i-- > 0;) {
        const Frame& data = frames_[i];
        if (name == "index" && data.index) return *data.index;
        if (name == "first" && data.first) return *data.first;
        if (name == "last" && data.last) return *data.last;
      }
      return {};
    }
    if (frame.self == nullptr) {
      if (path.parts.empty()) return Value::string("[object Object]");
      return root_lookup(path, 0);
    }
    Value value = *frame.self;
    for (const auto& part : path.parts) value = property(value, part);
    return value;
  }

  Value root_lookup(const Path& path, std::size_t first) {
    const std::string& name = path.parts[first];
    Value value;
    if (auto it = scope_.values.find(name); it != scope_.values.end()) {
      value = it->second;
    } else if (auto var = scope_.variables.find(name); var != scope_.variables.end()) {
      value = Value::string(var->second);
    } else if (auto found = scope_.helpers.find(name); found != scope_.helpers.end()) {
      // A helper named as an argument is called without arguments, as
      // Handlebars does for a function in the context.
      value = Value::string(found->second({}));
    }
    for (std::size_t i = first + 1; i < path.parts.size(); ++i) value = property(value, path.parts[i]);
    return value;
  }

  std::string mustache(const Expression& expression) {
    const Path& path = expression.path;
    if (is_simple(path)) {
      const std::string& name = path.parts[0];
      if (name == "if" || name == "unless" || name == "each" || name == "with") {
        throw TemplateError("{{" + name + "}} needs a block: write {{#" + name + " ...}}...{{/" + name + "}}");
      }
      if (name == "lookup") {
        if (expression.params.size() != 2) throw TemplateError("{{lookup}} takes an object and a field");
        Value object = evaluate(expression.params[0]);
        Value field = evaluate(expression.params[1]);
        return property(object, field.to_string()).to_string();
      }
      if (name == "log") return {};
      if (const Helper* found = helper(path)) return call(*found, expression);
    }
    if (!expression.params.empty() || !expression.hash.empty()) {
      throw TemplateError("missing helper \"" + path.original + "\"");
    }
    return lookup(path).to_string();
  }

  std::string with_frame(const Template::Program* program, Frame frame) {
    if (program == nullptr) return {};
    frames_.push_back(std::move(frame));
    std::string output = this->program(*program);
    frames_.pop_back();
    return output;
  }

  std::string current(const Template::Program* program) {
    return program == nullptr ? std::string() : this->program(*program);
  }

  std::string each(const Value& value, const Template::Program* fn, const Template::Program* inverse) {
    if (value.kind != Value::Kind::array || value.items.empty()) return current(inverse);
    std::string output;
    for (std::size_t i = 0; i < value.items.size(); ++i) {
      Frame frame{&value.items[i], Value::number(std::to_string(i)), Value::boolean(i == 0),
                  Value::boolean(i + 1 == value.items.size())};
      output += with_frame(fn, std::move(frame));
    }
    return output;
  }

  std::string block(const Node& node) {
    const Expression& expression = node.expression;
    const Template::Program* fn = node.program.get();
    const Template::Program* inverse = node.inverse.get();
    if (node.inverted) std::swap(fn, inverse);
    const Path& path = expression.path;

    if (is_simple(path) && !node.inverted) {
      const std::string& name = path.parts[0];
      if (name == "if" || name == "unless") {
        if (expression.params.size() != 1) throw TemplateError("{{#" + name + "}} takes exactly one argument");
        Value condition = evaluate(expression.params[0]);
        bool include_zero = false;
        for (const auto& [key, param] : expression.hash) {
          if (key == "includeZero") include_zero = evaluate(param).truthy();
        }
        bool truthy = condition.truthy() || (include_zero && condition.kind == Value::Kind::number);
        if (name == "unless") truthy = !truthy;
        return current(truthy ? fn : inverse);
      }
      if (name == "with") {
        if (expression.params.size() != 1) throw TemplateError("{{#with}} takes exactly one argument");
        Value value = evaluate(expression.params[0]);
        bool empty = (!value.truthy() && value.kind != Value::Kind::number) ||
                     (value.kind == Value::Kind::array && value.items.empty());
        if (empty) return current(inverse);
        return with_frame(fn, Frame{&value, std::nullopt, std::nullopt, std::nullopt});
      }
      if (name == "each") {
        if (expression.params.empty()) throw TemplateError("{{#each}} needs something to iterate over");
        return each(evaluate(expression.params[0]), fn, inverse);
      }
    }
    if (is_simple(path)) {
      // A helper used as a block returns its own text; the block body is unused.
      if (const Helper* found = helper(path)) return call(*found, expression);
    }
    if (!expression.params.empty() || !expression.hash.empty()) {
      throw TemplateError("missing helper \"" + path.original + "\"");
    }
    Value value = lookup(path);
    if (value.kind == Value::Kind::boolean) return current(value.flag ? fn : inverse);
    if (value.kind == Value::Kind::undefined) return current(inverse);
    if (value.kind == Value::Kind::array) return each(value, fn, inverse);
    return with_frame(fn, Frame{&value, std::nullopt, std::nullopt, std::nullopt});
  }

  const Scope& scope_;
  std::vector<Frame> frames_;
};

}  // namespace

std::string Value::to_string() const {
  switch (kind) {
    case Kind::undefined: return {};
    case Kind::string:
    case Kind::number: return text;
    case Kind::boolean: return flag ? "true" : "false";
    case Kind::array: return join_values(items);
  }
  return {};
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::undefined: return false;
    case Kind::string: return !text.empty();
    case Kind::number: return text != "0" && text != "-0" && text != "NaN" && text.find_first_not_of("-0.") != std::string::npos;
    case Kind::boolean: return flag;
    case Kind::array: return !items.empty();
  }
  return false;
}

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

Template::Template(std::string_view text) : program_(nullptr) {
  auto parsed = Parser(tokenize(text), text).parse();
  program_ = std::make_unique<Program>(std::move(*parsed));
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const Scope& scope) const { return Renderer(scope).program(*program_); }

bool Template::is_single_name(std::string_view name) const {
  const auto& nodes = program_->nodes;
  return nodes.size() == 1 && nodes[0].kind == Node::Kind::mustache && nodes[0].expression.path.parts.size() == 1 &&
         nodes[0].expression.path.parts[0] == name;
}

std::string render(std::string_view text, const Scope& scope) {
  // Most values are plain text: skip parsing when there is no tag.
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  return Template(text).render(scope);
}

}  // namespace multipush::tags
