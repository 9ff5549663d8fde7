#include "multipush/auth/token.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "multipush/output/redact.hpp"

namespace multipush::auth {
namespace {

constexpr std::chrono::seconds kMinTokenLifetime{60};
constexpr std::chrono::seconds kTokenRequestTimeout{60};

// Orders actions as "pull", "push", then the others alphabetically, so that
// "push,pull" from a challenge and "pull,push" from the caller are one scope.
bool action_before(const std::string& left, const std::string& right) {
  auto rank = [](const std::string& action) {
    if (action == "pull") return 0;
    if (action == "push") return 1;
    return 2;
  };
  if (rank(left) != rank(right)) return rank(left) < rank(right);
  return left < right;
}

std::string scopes_for_request(const Challenge& challenge, const std::vector<std::string>& scopes) {
  // Actions per resource ("type:name"), merged from the caller's scopes and
  // the challenge's. The challenge may name a scope of its own (the one the
  // failed request needed).
  std::map<std::string, std::set<std::string, decltype(&action_before)>> actions_of;
  std::set<std::string> unparsed;
  auto add = [&](const Scope& scope, const std::string& text) {
    if (scope.type.empty()) {
      unparsed.insert(text);
      return;
    }
    auto& actions = actions_of.try_emplace(scope.type + ":" + scope.name, &action_before).first->second;
    actions.insert(scope.actions.begin(), scope.actions.end());
  };
  for (const auto& scope : scopes) add(parse_scope(scope), scope);
  for (const auto& scope : parse_scopes(challenge.param("scope"))) {
    if (!scope.type.empty()) add(scope, "");
  }

  std::set<std::string> all = unparsed;
  for (const auto& [resource, actions] : actions_of) {
    std::string text = resource + ":";
    bool first = true;
    for (const auto& action : actions) {
      text += (first ? "" : ",") + action;
      first = false;
    }
    all.insert(text);
  }
  std::string joined;
  for (const auto& scope : all) joined += (joined.empty() ? "" : " ") + scope;
  return joined;
}

std::vector<std::string> split_spaces(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) items.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

const Challenge* find_challenge(const std::vector<Challenge>& challenges, std::string_view scheme) {
  for (const auto& challenge : challenges) {
    if (challenge.scheme == scheme) return &challenge;
  }
  return nullptr;
}

bool has_password(const std::optional<Credentials>& credentials) {
  return credentials && !credentials->username.empty() && !credentials->password.empty();
}

std::string source_of(const std::optional<Credentials>& credentials) {
  if (!credentials) return "anonymous access";
  return credentials->source.empty() ? "the configured credentials" : credentials->source;
}

}  // namespace

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string result;
  result.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned value = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                     static_cast<unsigned char>(data[i + 2]);
    result += kAlphabet[(value >> 18) & 63];
    result += kAlphabet[(value >> 12) & 63];
    result += kAlphabet[(value >> 6) & 63];
    result += kAlphabet[value & 63];
  }
  if (i < data.size()) {
    unsigned value = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) value |= static_cast<unsigned char>(data[i + 1]) << 8;
    result += kAlphabet[(value >> 18) & 63];
    result += kAlphabet[(value >> 12) & 63];
    result += i + 1 < data.size() ? kAlphabet[(value >> 6) & 63] : '=';
    result += '=';
  }
  return result;
}

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string result;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+' || c == '-') value = 62;
    else if (c == '/' || c == '_') value = 63;
    else return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      result.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;
  return result;
}

std::expected<Token, std::string> parse_token_response(std::string_view body, Clock::time_point received_at) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::unexpected("the response is not a JSON object");
  Token token;
  for (const char* field : {"token", "access_token"}) {
    auto it = json.find(field);
    if (it != json.end() && it->is_string() && !it->get<std::string>().empty()) {
      token.value = it->get<std::string>();
      break;
    }
  }
  if (token.value.empty()) return std::unexpected("the response has neither `token` nor `access_token`");
  std::chrono::seconds lifetime = kMinTokenLifetime;
  auto expires_in = json.find("expires_in");
  if (expires_in != json.end() && expires_in->is_number()) {
    lifetime = std::max(kMinTokenLifetime, std::chrono::seconds(expires_in->get<long long>()));
  }
  token.expires_at = received_at + lifetime;
  auto refresh = json.find("refresh_token");
  if (refresh != json.end() && refresh->is_string()) token.refresh_token = refresh->get<std::string>();
  return token;
}

std::optional<std::string> TokenCache::get(const Key& key, Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(key);
  if (it == tokens_.end() || now + kRenewMargin >= it->second.expires_at) return std::nullopt;
  return it->second.value;
}

void TokenCache::put(const Key& key, Token token) {
  std::lock_guard lock(mutex_);
  tokens_[key] = std::move(token);
}

void TokenCache::erase(const Key& key) {
  std::lock_guard lock(mutex_);
  tokens_.erase(key);
}

Authenticator::Authenticator(http::Client& client, std::optional<Credentials> credentials,
                             AuthenticatorOptions options)
    : client_(client), credentials_(std::move(credentials)), options_(options) {
  if (credentials_) {
    for (const auto* secret : {&credentials_->password, &credentials_->identity_token, &credentials_->registry_token}) {
      output::register_secret(*secret);
    }
    std::size_t hash = std::hash<std::string>{}(credentials_->password + "\n" + credentials_->identity_token);
    credential_identity_ = credentials_->username + "#" + std::to_string(hash);
  }
}

std::expected<std::string, AuthError> Authenticator::authorization(const std::vector<Challenge>& challenges,
                                                                   const std::vector<std::string>& scopes,
                                                                   bool renew) {
  if (challenges.empty()) return std::string();

  if (const Challenge* bearer = find_challenge(challenges, "bearer")) {
    if (credentials_ && !credentials_->registry_token.empty()) return "Bearer " + credentials_->registry_token;
    if (bearer->param("realm").empty()) {
      return std::unexpected(AuthError{"the registry's Bearer challenge has no realm, so no token server is known",
                                       false, false, false});
    }
    TokenCache::Key key{bearer->param("realm"), bearer->param("service"),
                        split_spaces(scopes_for_request(*bearer, scopes)), credential_identity_};
    if (renew) cache_.erase(key);
    if (auto cached = cache_.get(key, options_.now())) return "Bearer " + *cached;
    auto token = fetch_token(*bearer, key.scopes);
    if (!token) return std::unexpected(token.error());
    std::string value = "Bearer " + token->value;
    cache_.put(key, std::move(*token));
    return value;
  }

  if (find_challenge(challenges, "basic")) {
    if (!has_password(credentials_)) return std::string();
    std::string pair = credentials_->username + ":" + credentials_->password;
    std::string encoded = base64_encode(pair);
    output::register_secret(encoded);
    return "Basic " + encoded;
  }

  return std::unexpected(AuthError{"the registry asks for the authentication scheme `" + challenges.front().scheme +
                                       "`, which is not supported (only Basic and Bearer are)",
                                   false, false, false});
}

std::string Authenticator::refresh_token_for(const Challenge& challenge) const {
  {
    std::lock_guard lock(refresh_mutex_);
    auto it = refresh_tokens_.find(challenge.param("realm") + " " + challenge.param("service"));
    if (it != refresh_tokens_.end()) return it->second;
  }
  return credentials_ ? credentials_->identity_token : std::string();
}

std::expected<Token, AuthError> Authenticator::fetch_token(const Challenge& challenge,
                                                           const std::vector<std::string>& scopes) {
  // The docker CLI's order: the OAuth2 POST form for an identity (refresh)
  // token, or for a password when asked to; the GET form otherwise, and
  // when the token server has no OAuth2 endpoint (std::nullopt).
  std::string refresh_token = refresh_token_for(challenge);
  if (!refresh_token.empty() || (options_.oauth_password && has_password(credentials_))) {
    if (auto token = fetch_token_post(challenge, scopes, refresh_token)) {
      if (*token && !(*token)->refresh_token.empty()) {
        std::lock_guard lock(refresh_mutex_);
        refresh_tokens_[challenge.param("realm") + " " + challenge.param("service")] = (*token)->refresh_token;
      }
      return *token;
    }
  }
  return fetch_token_get(challenge, scopes);
}

std::expected<Token, AuthError> Authenticator::fetch_token_get(const Challenge& challenge,
                                                               const std::vector<std::string>& scopes) {
  std::string realm = challenge.param("realm");
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  std::string service = challenge.param("service");
  bool first = true;
  auto add = [&](const std::string& name, const std::string& value) {
    url += (first ? "" : "&") + name + "=" + http::url_encode(value);
    first = false;
  };
  if (!service.empty()) add("service", service);
  for (const auto& scope : scopes) add("scope", scope);

  http::Headers headers;
  if (credentials_) {
    // NOTE: the GET form has no field for a refresh token. Sending it as
    // the password of the user "<token>" is untested against real token
    // servers.
    std::string password = credentials_->password.empty() ? credentials_->identity_token : credentials_->password;
    std::string username = credentials_->username.empty() ? "<token>" : credentials_->username;
    if (!password.empty()) {
      if (!credentials_->username.empty()) add("account", credentials_->username);
      std::string encoded = base64_encode(username + ":" + password);
      output::register_secret(encoded);
      headers.emplace_back("Authorization", "Basic " + encoded);
    }
  }
  if (first) url.pop_back();

  http::Request request;
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.timeout = kTokenRequestTimeout;
  request.follow_redirects = true;
  return token_from_response(realm, client_.send(request));
}

std::optional<std::expected<Token, AuthError>> Authenticator::fetch_token_post(const Challenge& challenge,
                                                                const std::vector<std::string>& scopes,
                                                                const std::string& refresh_token) {
  std::string realm = challenge.param("realm");
  std::string scope_field;
  for (const auto& scope : scopes) scope_field += (scope_field.empty() ? "" : " ") + scope;

  http::Request request;
  request.method = "POST";
  request.url = realm;
  request.timeout = kTokenRequestTimeout;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.body = std::string("grant_type=") + (refresh_token.empty() ? "password" : "refresh_token") +
                 "&service=" + http::url_encode(challenge.param("service")) +
                 "&client_id=" + http::url_encode(std::string(kOAuthClientId)) + "&access_type=offline" +
                 "&scope=" + http::url_encode(scope_field);
  if (!refresh_token.empty()) {
    request.body += "&refresh_token=" + http::url_encode(refresh_token);
  } else {
    request.body += "&username=" + http::url_encode(credentials_->username) +
                    "&password=" + http::url_encode(credentials_->password);
  }
  auto response = client_.send(request);
  if (response && (response->status == 404 || response->status == 405)) {
    return std::nullopt;
  }
  return token_from_response(realm, response);
}

std::expected<Token, AuthError> Authenticator::token_from_response(
    const std::string& realm, const std::expected<http::Response, http::TransportError>& response) {
  if (!response) {
    return std::unexpected(AuthError{"requesting a token from " + realm + " failed: " + response.error().message,
                                     false, response.error().retryable, response.error().tls});
  }
  long status = response->status;
  if (status == 401 || status == 403) {
    std::string hint = credentials_ ? "check the username and password (or token) from " + source_of(credentials_)
                                    : "log in with `docker login` or set credentials for this registry in multipush.yaml";
    return std::unexpected(AuthError{"the token server " + realm + " rejected the request (HTTP " +
                                         std::to_string(status) + "): " + hint,
                                     true, false, false});
  }
  if (status != 200) {
    bool retryable = status == 408 || status == 429 || status >= 500;
    return std::unexpected(AuthError{"the token server " + realm + " returned HTTP " + std::to_string(status) +
                                         " to a token request",
                                     false, retryable, false});
  }
  auto token = parse_token_response(response->body, options_.now());
  if (!token) {
    return std::unexpected(AuthError{"the token server " + realm + " sent an invalid token response: " + token.error(),
                                     false, false, false});
  }
  output::register_secret(token->value);
  output::register_secret(token->refresh_token);
  return std::move(*token);
}

}  // namespace multipush::auth
