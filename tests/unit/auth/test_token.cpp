#include <doctest/doctest.h>

#include "multipush/auth/token.hpp"

using namespace multipush::auth;
using namespace std::chrono_literals;

TEST_CASE("token response fields") {
  auto now = Clock::now();
  auto token = parse_token_response(R"({"token":"abc","expires_in":300,"refresh_token":"r"})", now);
  REQUIRE(token);
  CHECK(token->value == "abc");
  CHECK(token->expires_at == now + 300s);
  CHECK(token->refresh_token == "r");

  auto access = parse_token_response(R"({"access_token":"xyz"})", now);
  REQUIRE(access);
  CHECK(access->value == "xyz");
  CHECK(access->expires_at == now + 60s);
}

TEST_CASE("token response short lifetime") {
  auto now = Clock::now();
  auto token = parse_token_response(R"({"token":"abc","expires_in":5})", now);
  REQUIRE(token);
  CHECK(token->expires_at == now + 60s);
}

TEST_CASE("token response invalid") {
  auto now = Clock::now();
  CHECK_FALSE(parse_token_response("<html>", now));
  CHECK_FALSE(parse_token_response(R"({"expires_in":60})", now));
  CHECK_FALSE(parse_token_response(R"({"token":""})", now));
}

TEST_CASE("token cache expiry") {
  TokenCache cache;
  TokenCache::Key key{"https://r/token", "svc", {"repository:a:pull,push"}, "alice#1"};
  auto now = Clock::now();
  cache.put(key, Token{"t1", now + 60s, ""});
  CHECK(cache.get(key, now) == "t1");
  CHECK(cache.get(key, now + 49s) == "t1");
  CHECK_FALSE(cache.get(key, now + 50s));
  CHECK_FALSE(cache.get(key, now + 61s));
}

TEST_CASE("token cache keys") {
  TokenCache cache;
  auto now = Clock::now();
  TokenCache::Key key{"https://r/token", "svc", {"repository:a:pull,push"}, "alice#1"};
  cache.put(key, Token{"t1", now + 300s, ""});
  TokenCache::Key other_scope = key;
  other_scope.scopes = {"repository:b:pull,push"};
  TokenCache::Key other_user = key;
  other_user.credential = "bob#2";
  TokenCache::Key other_service = key;
  other_service.service = "svc2";
  CHECK_FALSE(cache.get(other_scope, now));
  CHECK_FALSE(cache.get(other_user, now));
  CHECK_FALSE(cache.get(other_service, now));
  cache.erase(key);
  CHECK_FALSE(cache.get(key, now));
}

TEST_CASE("base64 round trip") {
  CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_decode("dXNlcjpwYXNz") == "user:pass");
  CHECK(base64_decode("YQ") == "a");
  CHECK_FALSE(base64_decode("a*b"));
}

TEST_CASE("authenticator basic and registry token") {
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "user";
  credentials.password = "pass-word";
  Authenticator basic(client, credentials);
  auto value = basic.authorization(parse_challenges(R"(Basic realm="Registry Realm")"), {});
  REQUIRE(value);
  CHECK(*value == "Basic dXNlcjpwYXNzLXdvcmQ=");

  Authenticator anonymous(client, std::nullopt);
  auto none = anonymous.authorization(parse_challenges(R"(Basic realm="Registry Realm")"), {});
  REQUIRE(none);
  CHECK(none->empty());
  auto no_challenge = anonymous.authorization({}, {"repository:a:pull"});
  REQUIRE(no_challenge);
  CHECK(no_challenge->empty());

  Credentials registry_token;
  registry_token.registry_token = "ready-token";
  Authenticator direct(client, registry_token);
  auto bearer = direct.authorization(parse_challenges(R"(Bearer realm="https://127.0.0.1:1/token")"), {});
  REQUIRE(bearer);
  CHECK(*bearer == "Bearer ready-token");

  auto unknown = anonymous.authorization(parse_challenges("Digest realm=x"), {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("Digest") == std::string::npos);
  CHECK(unknown.error().message.find("digest") != std::string::npos);
}

// Token requests against tests/support/http_echo.py, whose token value
// spells out the request: "METHOD|QUERY|AUTHORIZATION|BODY".

#include "util/echo_server.hpp"

namespace {

std::vector<Challenge> bearer(const std::string& realm, const std::string& extra = "") {
  return parse_challenges("Bearer realm=\"" + realm + "\",service=\"registry.test\"" + extra);
}

}  // namespace

TEST_CASE("authenticator bearer get form") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-1234";
  Authenticator authenticator(client, credentials);
  auto value = authenticator.authorization(bearer(server.url() + "/token"),
                                           {"repository:acme/app:pull,push", "repository:acme/base:pull"});
  REQUIRE(value);
  CHECK(*value ==
        "Bearer GET|service=registry.test&scope=repository%3Aacme%2Fapp%3Apull%2Cpush"
        "&scope=repository%3Aacme%2Fbase%3Apull&account=alice|Basic YWxpY2U6cHctMTIzNA==|");
}

TEST_CASE("authenticator bearer anonymous and challenge scope") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Authenticator authenticator(client, std::nullopt);
  auto value = authenticator.authorization(bearer(server.url() + "/token", ",scope=\"repository:x/y:pull\""), {});
  REQUIRE(value);
  CHECK(*value == "Bearer GET|service=registry.test&scope=repository%3Ax%2Fy%3Apull||");
}

TEST_CASE("authenticator bearer cache and renew") {
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-1234";
  Authenticator authenticator(client, credentials);
  std::vector<Challenge> challenges;
  std::string first;
  {
    multipush::test::EchoServer server;
    challenges = bearer(server.url() + "/token");
    auto value = authenticator.authorization(challenges, {"repository:acme/app:pull,push"});
    REQUIRE(value);
    first = *value;
  }
  // The token server has stopped, so only the cache can answer.
  auto cached = authenticator.authorization(challenges, {"repository:acme/app:pull,push"});
  REQUIRE(cached);
  CHECK(*cached == first);
  auto other_scope = authenticator.authorization(challenges, {"repository:acme/other:pull,push"});
  CHECK_FALSE(other_scope);
  auto renewed = authenticator.authorization(challenges, {"repository:acme/app:pull,push"}, true);
  REQUIRE_FALSE(renewed);
  CHECK(renewed.error().retryable);
}

TEST_CASE("authenticator identity token post form") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.identity_token = "refresh-9876";
  Authenticator authenticator(client, credentials);
  auto value = authenticator.authorization(bearer(server.url() + "/token"), {"repository:acme/app:pull,push"});
  REQUIRE(value);
  CHECK(*value ==
        "Bearer POST|||grant_type=refresh_token&service=registry.test&client_id=docker-multipush"
        "&access_type=offline&scope=repository%3Aacme%2Fapp%3Apull%2Cpush&refresh_token=refresh-9876");
}

TEST_CASE("authenticator identity token falls back to get") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.identity_token = "refresh-9876";
  Authenticator authenticator(client, credentials);
  auto value =
      authenticator.authorization(bearer(server.url() + "/token-no-oauth"), {"repository:acme/app:pull,push"});
  REQUIRE(value);
  CHECK(value->starts_with("Bearer GET|service=registry.test&scope=repository%3Aacme%2Fapp%3Apull%2Cpush|Basic "));
  CHECK(value->find(base64_encode("<token>:refresh-9876")) != std::string::npos);
}

TEST_CASE("authenticator token server rejects") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "wrong-pass";
  credentials.source = "auths[registry.test]";
  Authenticator authenticator(client, credentials);
  auto value = authenticator.authorization(bearer(server.url() + "/token-denied"), {"repository:a:pull"});
  REQUIRE_FALSE(value);
  CHECK(value.error().unauthorized);
  CHECK_FALSE(value.error().retryable);
  CHECK(value.error().message.find("auths[registry.test]") != std::string::npos);
  CHECK(value.error().message.find("wrong-pass") == std::string::npos);
}

TEST_CASE("authenticator password post form") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw 1234";
  Authenticator authenticator(client, credentials, AuthenticatorOptions{.oauth_password = true});
  auto value = authenticator.authorization(bearer(server.url() + "/token"), {"repository:acme/app:pull,push"});
  REQUIRE(value);
  CHECK(*value ==
        "Bearer POST|||grant_type=password&service=registry.test&client_id=docker-multipush"
        "&access_type=offline&scope=repository%3Aacme%2Fapp%3Apull%2Cpush&username=alice&password=pw%201234");
}

TEST_CASE("authenticator password post falls back to get") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-1234";
  Authenticator authenticator(client, credentials, AuthenticatorOptions{.oauth_password = true});
  auto value =
      authenticator.authorization(bearer(server.url() + "/token-no-oauth"), {"repository:acme/app:pull,push"});
  REQUIRE(value);
  CHECK(value->starts_with("Bearer GET|service=registry.test&scope=repository%3Aacme%2Fapp%3Apull%2Cpush"));
  CHECK(value->find("Basic YWxpY2U6cHctMTIzNA==") != std::string::npos);
}

TEST_CASE("authenticator password without oauth uses get") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-1234";
  Authenticator authenticator(client, credentials);
  auto value = authenticator.authorization(bearer(server.url() + "/token"), {"repository:acme/app:pull"});
  REQUIRE(value);
  CHECK(value->starts_with("Bearer GET|"));
}
