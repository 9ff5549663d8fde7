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

TEST_CASE("challenge scope merges actions") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  Authenticator authenticator(client, std::nullopt);
  // distribution 2.8 writes "push,pull" in its challenges.
  auto same = authenticator.authorization(bearer(server.url() + "/token", ",scope=\"repository:acme/app:push,pull\""),
                                          {"repository:acme/app:pull,push"});
  REQUIRE(same);
  CHECK(*same == "Bearer GET|service=registry.test&scope=repository%3Aacme%2Fapp%3Apull%2Cpush||");

  auto wider = authenticator.authorization(bearer(server.url() + "/token", ",scope=\"repository:acme/app:delete\""),
                                           {"repository:acme/app:pull,push", "repository:acme/base:pull"});
  REQUIRE(wider);
  CHECK(*wider ==
        "Bearer GET|service=registry.test&scope=repository%3Aacme%2Fapp%3Apull%2Cpush%2Cdelete"
        "&scope=repository%3Aacme%2Fbase%3Apull||");
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

// Token lifetimes against a token server in this process, with a manual
// clock, so that no test waits for a token to expire.

#include "auth/scripted_token_server.hpp"

namespace {

using multipush::test::RecordedRequest;
using multipush::test::ScriptedTokenServer;

// A clock that moves only when the test advances it.
struct ManualClock {
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(24 * 365 * 50);
};

AuthenticatorOptions options_with(ManualClock& clock, bool oauth_password = false) {
  AuthenticatorOptions options;
  options.oauth_password = oauth_password;
  options.now = [&clock] { return clock.now; };
  return options;
}

std::vector<Challenge> challenge_for(const ScriptedTokenServer& server) {
  return parse_challenges("Bearer realm=\"" + server.realm() + "\",service=\"registry.test\"");
}

Credentials password_credentials() {
  Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-1234";
  return credentials;
}

const std::vector<std::string> kPushScope{"repository:acme/app:pull,push"};

// The point at which a cached token counts as expired: its lifetime minus
// the renewal margin.
constexpr std::chrono::seconds kRenewAfter = std::chrono::seconds(60) - TokenCache::kRenewMargin;

}  // namespace

TEST_CASE("short-lived token reused for 60 s") {
  ScriptedTokenServer server([](const RecordedRequest&, int number) {
    return R"({"token":"short-)" + std::to_string(number) + R"(","expires_in":5})";
  });
  multipush::http::Client client;
  ManualClock clock;
  auto start = clock.now;
  Authenticator authenticator(client, password_credentials(), options_with(clock));

  auto first = authenticator.authorization(challenge_for(server), kPushScope);
  REQUIRE(first);
  CHECK(*first == "Bearer short-1");

  for (auto elapsed : {5s, 30s, kRenewAfter - 1s}) {
    clock.now = start + elapsed;
    auto again = authenticator.authorization(challenge_for(server), kPushScope);
    REQUIRE(again);
    CHECK(*again == "Bearer short-1");
  }
  CHECK(server.requests().size() == 1);

  clock.now = start + kRenewAfter;
  auto renewed = authenticator.authorization(challenge_for(server), kPushScope);
  REQUIRE(renewed);
  CHECK(*renewed == "Bearer short-2");
  CHECK(server.requests().size() == 2);
}

TEST_CASE("token without expires_in lives 60 s") {
  ScriptedTokenServer server([](const RecordedRequest&, int number) {
    return R"({"token":"plain-)" + std::to_string(number) + R"("})";
  });
  multipush::http::Client client;
  ManualClock clock;
  auto start = clock.now;
  Authenticator authenticator(client, password_credentials(), options_with(clock));

  REQUIRE(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer plain-1");
  clock.now = start + kRenewAfter - 1s;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer plain-1");
  CHECK(server.requests().size() == 1);
  clock.now = start + kRenewAfter;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer plain-2");
  CHECK(server.requests().size() == 2);
}

TEST_CASE("long-lived token follows expires_in") {
  ScriptedTokenServer server([](const RecordedRequest&, int number) {
    return R"({"token":"long-)" + std::to_string(number) + R"(","expires_in":300})";
  });
  multipush::http::Client client;
  ManualClock clock;
  auto start = clock.now;
  Authenticator authenticator(client, password_credentials(), options_with(clock));

  REQUIRE(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer long-1");
  clock.now = start + 300s - TokenCache::kRenewMargin - 1s;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer long-1");
  clock.now = start + 300s - TokenCache::kRenewMargin;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer long-2");
  CHECK(server.requests().size() == 2);
}

TEST_CASE("renew replaces a valid token") {
  ScriptedTokenServer server([](const RecordedRequest&, int number) {
    return R"({"token":"renewable-)" + std::to_string(number) + R"(","expires_in":300})";
  });
  multipush::http::Client client;
  ManualClock clock;
  Authenticator authenticator(client, password_credentials(), options_with(clock));

  REQUIRE(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer renewable-1");
  // A registry that responds with 401 and error="invalid_token" makes the
  // client call again with `renew`.
  CHECK(authenticator.authorization(challenge_for(server), kPushScope, true) == "Bearer renewable-2");
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer renewable-2");
  CHECK(server.requests().size() == 2);
}

TEST_CASE("identity token flow renews short-lived token") {
  // The server rotates the refresh token with every response, as OAuth2
  // token servers may.
  ScriptedTokenServer server([](const RecordedRequest&, int number) {
    std::string suffix = std::to_string(number);
    return R"({"access_token":"access-)" + suffix + R"(","expires_in":5,"refresh_token":"rotated-)" + suffix +
           R"("})";
  });
  multipush::http::Client client;
  ManualClock clock;
  auto start = clock.now;
  Credentials credentials;
  credentials.identity_token = "identity-9876";
  Authenticator authenticator(client, credentials, options_with(clock));

  REQUIRE(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer access-1");
  clock.now = start + kRenewAfter - 1s;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer access-1");
  clock.now = start + kRenewAfter;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer access-2");

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].body.find("grant_type=refresh_token") != std::string::npos);
  CHECK(requests[0].body.find("&refresh_token=identity-9876") != std::string::npos);
  CHECK(requests[1].method == "POST");
  CHECK(requests[1].body.find("grant_type=refresh_token") != std::string::npos);
  CHECK(requests[1].body.find("&refresh_token=rotated-1") != std::string::npos);
}

TEST_CASE("password post flow renews with refresh token") {
  ScriptedTokenServer server([](const RecordedRequest& request, int number) {
    std::string suffix = std::to_string(number);
    std::string body = R"({"access_token":"oauth-)" + suffix + R"(","expires_in":5)";
    if (request.body.find("access_type=offline") != std::string::npos) {
      body += R"(,"refresh_token":"offline-)" + suffix + "\"";
    }
    return body + "}";
  });
  multipush::http::Client client;
  ManualClock clock;
  auto start = clock.now;
  Authenticator authenticator(client, password_credentials(), options_with(clock, true));

  REQUIRE(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer oauth-1");
  clock.now = start + kRenewAfter;
  CHECK(authenticator.authorization(challenge_for(server), kPushScope) == "Bearer oauth-2");

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].body.find("grant_type=password") != std::string::npos);
  CHECK(requests[1].body.find("grant_type=refresh_token") != std::string::npos);
  CHECK(requests[1].body.find("&refresh_token=offline-1") != std::string::npos);
  CHECK(requests[1].body.find("password=") == std::string::npos);
}
