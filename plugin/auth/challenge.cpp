#include "multipush/auth/challenge.hpp"

#include <cctype>

namespace multipush::auth {
namespace {

// RFC 7230 tchar.
bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// RFC 7235 token68 adds "/" to the token characters it allows.
bool is_token68_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' ||
         c == '+' || c == '/';
}

std::string to_lower(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  size_t position() const { return pos_; }
  void seek(size_t position) { pos_ = position; }
  void advance() { ++pos_; }

  void skip_spaces() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  std::string read_token() {
    size_t start = pos_;
    while (!at_end() && is_token_char(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  // Reads a quoted-string after its opening quote; a backslash escapes the
  // next character.
  std::string read_quoted() {
    std::string value;
    ++pos_;
    while (!at_end() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.push_back(text_[pos_]);
      ++pos_;
    }
    if (!at_end()) ++pos_;
    return value;
  }

  // Reads a token68 ("abc+/==") when one starts here and runs to a comma or
  // the end; otherwise leaves the position unchanged and returns "".
  std::string read_token68() {
    size_t start = pos_;
    size_t end = pos_;
    while (end < text_.size() && is_token68_char(text_[end])) ++end;
    if (end == start) return "";
    while (end < text_.size() && text_[end] == '=') ++end;
    size_t after = end;
    while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t')) ++after;
    if (after < text_.size() && text_[after] != ',') return "";
    pos_ = end;
    return std::string(text_.substr(start, end - start));
  }

  // Skips to just past the next comma (or to the end) after malformed input.
  void skip_item() {
    while (!at_end() && text_[pos_] != ',') {
      if (text_[pos_] == '"') read_quoted();
      else ++pos_;
    }
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string Challenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parse_challenges(std::string_view header) {
  std::vector<Challenge> challenges;
  Tokenizer in(header);
  // Set right after a scheme, where a token68 may follow (no comma between).
  bool after_scheme = false;
  while (true) {
    in.skip_spaces();
    if (in.peek() == ',') {
      in.advance();
      after_scheme = false;
      continue;
    }
    if (in.at_end()) break;

    if (after_scheme) {
      std::string token68 = in.read_token68();
      after_scheme = false;
      if (!token68.empty()) {
        challenges.back().token68 = token68;
        continue;
      }
    }

    size_t start = in.position();
    std::string name = in.read_token();
    if (name.empty()) {
      in.advance();
      in.skip_item();
      continue;
    }
    in.skip_spaces();
    if (in.peek() == '=' && !challenges.empty()) {
      in.advance();
      in.skip_spaces();
      std::string value = in.peek() == '"' ? in.read_quoted() : in.read_token();
      challenges.back().params[to_lower(name)] = value;
      continue;
    }
    if (in.peek() == '=') {
      // A parameter before any scheme: not a valid challenge.
      in.seek(start);
      in.skip_item();
      continue;
    }
    challenges.push_back(Challenge{to_lower(name), {}, {}});
    after_scheme = true;
  }
  return challenges;
}

Scope parse_scope(std::string_view text) {
  Scope scope;
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return scope;
  scope.type = std::string(text.substr(0, first));
  scope.name = std::string(text.substr(first + 1, last - first - 1));
  std::string_view actions = text.substr(last + 1);
  while (!actions.empty()) {
    size_t comma = actions.find(',');
    std::string_view action = actions.substr(0, comma);
    if (!action.empty()) scope.actions.emplace_back(action);
    if (comma == std::string_view::npos) break;
    actions.remove_prefix(comma + 1);
  }
  return scope;
}

std::vector<Scope> parse_scopes(std::string_view text) {
  std::vector<Scope> scopes;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view item = text.substr(0, space);
    if (!item.empty()) scopes.push_back(parse_scope(item));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return scopes;
}

std::string repository_scope(std::string_view repository, std::string_view actions) {
  std::string scope = "repository:";
  scope += repository;
  scope += ':';
  scope += actions;
  return scope;
}

std::vector<std::string> push_scopes(std::string_view repository, std::string_view mount_from) {
  std::vector<std::string> scopes{repository_scope(repository, "pull,push")};
  if (!mount_from.empty() && mount_from != repository) scopes.push_back(repository_scope(mount_from, "pull"));
  return scopes;
}

}  // namespace multipush::auth
