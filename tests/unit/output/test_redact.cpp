#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "multipush/output/redact.hpp"

using multipush::output::redact;
using multipush::output::redact_json;
using multipush::output::register_secret;

TEST_CASE("redact hides registered secret") {
  register_secret("s3cr3t-password-value");
  CHECK(redact("login with s3cr3t-password-value now") == "login with **** now");
  CHECK(redact("twice s3cr3t-password-value s3cr3t-password-value") == "twice **** ****");
  CHECK(redact("nothing secret here") == "nothing secret here");
}

TEST_CASE("redact ignores short secret") {
  register_secret("abc");
  CHECK(redact("abc abcabc") == "abc abcabc");
}

TEST_CASE("redact hides overlapping secrets") {
  register_secret("overlap-AAAA-BBBB");
  register_secret("BBBB-CCCC-overlap");
  // Neither secret may leave a fragment behind where they overlap.
  CHECK(redact("x overlap-AAAA-BBBB-CCCC-overlap y") == "x **** y");
}

TEST_CASE("redact hides secret containing another") {
  register_secret("inner-token-1234");
  register_secret("outer-inner-token-1234-outer");
  CHECK(redact("[outer-inner-token-1234-outer]") == "[****]");
  CHECK(redact("[inner-token-1234]") == "[****]");
}

TEST_CASE("redact hides authorization headers") {
  CHECK(redact("Authorization: Bearer eyJhbGciOi.abc.def") == "Authorization: Bearer ****");
  CHECK(redact("authorization: basic dXNlcjpwYXNz") == "authorization: basic ****");
  CHECK(redact("Authorization: token ghp_123456") == "Authorization: token ****");
}

TEST_CASE("redact hides token fields") {
  CHECK(redact("https://auth.example/token?service=x&access_token=abcd1234&scope=y") ==
        "https://auth.example/token?service=x&access_token=****&scope=y");
  CHECK(redact(R"({"token":"abcd1234","expires_in":300})") == R"({"token":"****","expires_in":300})");
  CHECK(redact("password=hunter22 user=me") == "password=**** user=me");
  CHECK(redact(R"({"refresh_token": "r-abcdef"})") == R"({"refresh_token": "****"})");
}

TEST_CASE("redact_json walks nested values") {
  register_secret("nested-secret-42");
  nlohmann::json value = {
      {"registry", "ghcr.io"},
      {"detail", {{"message", "denied for nested-secret-42"}, {"list", {"a", "nested-secret-42"}}}},
      {"password", "plain-text-password"},
      {"Secret", "another"},
      {"size", 42},
  };
  auto redacted = redact_json(value);
  CHECK(redacted["registry"] == "ghcr.io");
  CHECK(redacted["detail"]["message"] == "denied for ****");
  CHECK(redacted["detail"]["list"][1] == "****");
  CHECK(redacted["password"] == "****");
  CHECK(redacted["Secret"] == "****");
  CHECK(redacted["size"] == 42);
}
