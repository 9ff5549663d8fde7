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

// Returns the scope "repository:<repository>:<actions>", for example
// repository_scope("acme/app", "pull,push").
std::string repository_scope(std::string_view repository, std::string_view actions);

// Returns the scopes of a push to `repository`: pull and push on it, plus
// pull on `mount_from` when a blob is mounted from that repository of the
// same registry ("repository:dst:pull,push repository:src:pull").
std::vector<std::string> push_scopes(std::string_view repository, std::string_view mount_from = {});

}  // namespace multipush::auth
