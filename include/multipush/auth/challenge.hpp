#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace multipush::auth {

// One challenge of a WWW-Authenticate header (RFC 7235).
struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // names in lower case, values unquoted
  std::string token68;                        // the token68 form, when used instead of params

  // Returns the parameter value, or "" when absent.
  std::string param(const std::string& name) const;
};

// Parses every challenge in one WWW-Authenticate header value. Quoted values
// may contain commas and backslash escapes. Malformed parts are skipped.
std::vector<Challenge> parse_challenges(std::string_view header);

// A token scope "type:name:actions", where the name may contain "host:port".
struct Scope {
  std::string type;                  // "repository", "registry"
  std::string name;                  // "acme/app", "localhost:5000/acme/app"
  std::vector<std::string> actions;  // "pull", "push", "*"
};

// Splits a scope at its first and last colon. Returns a Scope with an empty
// type when `text` has fewer than two colons.
Scope parse_scope(std::string_view text);

// Splits the space-separated scope list of a challenge into scopes.
std::vector<Scope> parse_scopes(std::string_view text);

}  // namespace multipush::auth
