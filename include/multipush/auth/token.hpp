#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "multipush/auth/challenge.hpp"
#include "multipush/auth/credentials.hpp"
#include "multipush/util/http.hpp"

// Registry authentication: Basic, registry tokens, and Bearer tokens from a
// token server (GET form, or the OAuth2 POST form for identity tokens).
namespace multipush::auth {

using Clock = std::chrono::system_clock;

// A bearer token from a token server response.
struct Token {
  std::string value;
  Clock::time_point expires_at;
  std::string refresh_token;  // sent back by the OAuth2 POST form only
};

// Parses a token server response: `token` or `access_token`, and
// `expires_in` in seconds (absent or under 60 counts as 60). The lifetime is
// counted from `received_at`, the local time of the response, rather than
// from `issued_at`, so a token server with a skewed clock does not shorten it.
std::expected<Token, std::string> parse_token_response(std::string_view body, Clock::time_point received_at);

// Bearer tokens per (realm, service, sorted scope set, credential identity).
// Safe to call from several threads.
class TokenCache {
 public:
  struct Key {
    std::string realm;
    std::string service;
    std::vector<std::string> scopes;  // sorted and without duplicates
    std::string credential;           // username and a hash of the secret, never the secret itself
    auto operator<=>(const Key&) const = default;
  };

  // Seconds before expiry at which a cached token counts as expired, so a
  // request started with it does not arrive after it expired.
  static constexpr std::chrono::seconds kRenewMargin{10};

  // Returns the cached token when it is still valid at `now`.
  std::optional<std::string> get(const Key& key, Clock::time_point now) const;
  void put(const Key& key, Token token);
  void erase(const Key& key);

 private:
  mutable std::mutex mutex_;
  std::map<Key, Token> tokens_;
};

// A failure to obtain an Authorization value.
struct AuthError {
  std::string message;
  bool unauthorized = false;  // the token server rejected the credentials
  bool retryable = false;     // connection error, 429 or 5xx from the token server
  bool tls = false;
};

// How an Authenticator asks token servers for tokens.
struct AuthenticatorOptions {
  // Request tokens for a username and password with the OAuth2 POST form
  // (grant_type=password, access_type=offline) before the GET form, as the
  // docker CLI does with ForceOAuth. The refresh token that the server
  // returns is used for later requests. A token server that answers the POST
  // with 404 or 405 gets the GET form instead.
  bool oauth_password = false;
  // The clock that token lifetimes are measured with. Tests replace it to
  // move time forward without waiting.
  std::function<Clock::time_point()> now = [] { return Clock::now(); };
};

// Chooses and builds the Authorization header for a registry from its
// challenges and the credentials, fetching and caching bearer tokens.
// Safe to call from several threads.
class Authenticator {
 public:
  // `client` must outlive the Authenticator.
  Authenticator(http::Client& client, std::optional<Credentials> credentials, AuthenticatorOptions options = {});

  // Returns the Authorization header value for a request that the registry
  // rejected (or would reject) with `challenges`, covering `scopes`
  // ("repository:acme/app:pull,push"). Returns "" when the request should go
  // without Authorization (no challenge, or Basic without credentials).
  // With `renew`, a cached token is dropped and a new one fetched.
  std::expected<std::string, AuthError> authorization(const std::vector<Challenge>& challenges,
                                                      const std::vector<std::string>& scopes, bool renew = false);

  const std::optional<Credentials>& credentials() const { return credentials_; }

 private:
  std::expected<Token, AuthError> fetch_token(const Challenge& challenge, const std::vector<std::string>& scopes);
  std::expected<Token, AuthError> fetch_token_get(const Challenge& challenge, const std::vector<std::string>& scopes);
  // Sends `refresh_token` (grant_type=refresh_token) or, when it is empty,
  // the username and password (grant_type=password). Returns std::nullopt
  // when the token server returns 404 or 405, which means it has no OAuth2
  // endpoint.
  std::optional<std::expected<Token, AuthError>> fetch_token_post(const Challenge& challenge,
                                                                  const std::vector<std::string>& scopes,
                                                                  const std::string& refresh_token);
  std::string refresh_token_for(const Challenge& challenge) const;
  std::expected<Token, AuthError> token_from_response(const std::string& realm,
                                                      const std::expected<http::Response, http::TransportError>& response);

  http::Client& client_;
  std::optional<Credentials> credentials_;
  AuthenticatorOptions options_;
  std::string credential_identity_;
  TokenCache cache_;
  // Refresh tokens returned by OAuth2 token servers, per "realm service".
  mutable std::mutex refresh_mutex_;
  std::map<std::string, std::string> refresh_tokens_;
};

// The client_id sent to OAuth2 token servers.
inline constexpr std::string_view kOAuthClientId = "docker-multipush";

// Returns base64 (RFC 4648, with padding) of `data`.
std::string base64_encode(std::string_view data);
// Decodes base64 with or without padding; std::nullopt when invalid.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace multipush::auth
