#include <doctest/doctest.h>

#include "multipush/auth/challenge.hpp"

using multipush::auth::parse_challenges;
using multipush::auth::parse_scope;
using multipush::auth::parse_scopes;
using multipush::auth::push_scopes;
using multipush::auth::repository_scope;

TEST_CASE("challenge Docker Hub bearer") {
  auto challenges = parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:acme/app:pull,push")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "bearer");
  CHECK(challenges[0].param("realm") == "https://auth.docker.io/token");
  CHECK(challenges[0].param("service") == "registry.docker.io");
  CHECK(challenges[0].param("scope") == "repository:acme/app:pull,push");
}

TEST_CASE("challenge htpasswd basic") {
  auto challenges = parse_challenges(R"(Basic realm="Registry Realm")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "basic");
  CHECK(challenges[0].param("realm") == "Registry Realm");
}

TEST_CASE("challenge scheme is case-insensitive") {
  auto challenges = parse_challenges(R"(BEARER Realm="https://r/token", SERVICE=reg)");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "bearer");
  CHECK(challenges[0].param("realm") == "https://r/token");
  CHECK(challenges[0].param("service") == "reg");
}

TEST_CASE("challenge quoted escapes and error") {
  auto challenges = parse_challenges(
      R"(Bearer realm="https://r/token",error="invalid_token",error_description="say \"hi\", then go\\home")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].param("error") == "invalid_token");
  CHECK(challenges[0].param("error_description") == R"(say "hi", then go\home)");
}

TEST_CASE("challenge several in one header") {
  auto challenges = parse_challenges(
      R"(Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Bearer realm="https://t/token",scope="repository:localhost:5000/acme/app:pull")");
  REQUIRE(challenges.size() == 3);
  CHECK(challenges[0].scheme == "newauth");
  CHECK(challenges[0].param("type") == "1");
  CHECK(challenges[0].param("title") == R"(Login to "apps")");
  CHECK(challenges[1].scheme == "basic");
  CHECK(challenges[1].param("realm") == "simple");
  CHECK(challenges[2].scheme == "bearer");
  CHECK(challenges[2].param("scope") == "repository:localhost:5000/acme/app:pull");
}

TEST_CASE("challenge token68 and bare schemes") {
  auto challenges = parse_challenges("Negotiate abc+/def==, Basic, Bearer realm=x");
  REQUIRE(challenges.size() == 3);
  CHECK(challenges[0].scheme == "negotiate");
  CHECK(challenges[0].token68 == "abc+/def==");
  CHECK(challenges[1].scheme == "basic");
  CHECK(challenges[1].params.empty());
  CHECK(challenges[2].param("realm") == "x");
}

TEST_CASE("challenge empty and malformed") {
  CHECK(parse_challenges("").empty());
  CHECK(parse_challenges("  ,  ").empty());
  auto challenges = parse_challenges(R"(realm="orphan", Basic realm="r")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].param("realm") == "r");
}

TEST_CASE("scope with host and port") {
  auto scope = parse_scope("repository:localhost:5000/acme/app:pull,push");
  CHECK(scope.type == "repository");
  CHECK(scope.name == "localhost:5000/acme/app");
  REQUIRE(scope.actions.size() == 2);
  CHECK(scope.actions[0] == "pull");
  CHECK(scope.actions[1] == "push");
}

TEST_CASE("scope list and catalog") {
  auto scopes = parse_scopes("repository:a/b:pull registry:catalog:*");
  REQUIRE(scopes.size() == 2);
  CHECK(scopes[0].name == "a/b");
  CHECK(scopes[1].type == "registry");
  CHECK(scopes[1].name == "catalog");
  REQUIRE(scopes[1].actions.size() == 1);
  CHECK(scopes[1].actions[0] == "*");
  CHECK(parse_scope("nonsense").type.empty());
}

TEST_CASE("push scopes with and without mount") {
  CHECK(repository_scope("acme/app", "pull") == "repository:acme/app:pull");
  CHECK(push_scopes("acme/app") == std::vector<std::string>{"repository:acme/app:pull,push"});
  CHECK(push_scopes("acme/app", "acme/base") ==
        std::vector<std::string>{"repository:acme/app:pull,push", "repository:acme/base:pull"});
  CHECK(push_scopes("acme/app", "acme/app") == std::vector<std::string>{"repository:acme/app:pull,push"});
}
