#include <doctest/doctest.h>

#include <map>
#include <string>

#include "config/expand.hpp"

using multipush::config::expand_env;

namespace {

std::expected<std::string, std::string> expand(const std::string& text) {
  static const std::map<std::string, std::string> kEnvironment = {{"USER", "robot"}, {"EMPTY", ""}};
  return expand_env(text, [](const std::string& name) -> std::optional<std::string> {
    auto found = kEnvironment.find(name);
    if (found == kEnvironment.end()) return std::nullopt;
    return found->second;
  });
}

}  // namespace

TEST_CASE("expand: variables and defaults") {
  CHECK(expand("plain") == "plain");
  CHECK(expand("${USER}") == "robot");
  CHECK(expand("a-${USER}-b") == "a-robot-b");
  CHECK(expand("${USER}${USER}") == "robotrobot");
  CHECK(expand("${MISSING:-fallback}") == "fallback");
  CHECK(expand("${MISSING:-}") == "");
  CHECK(expand("${EMPTY:-fallback}") == "fallback");
  CHECK(expand("${EMPTY-fallback}") == "");
  CHECK(expand("${MISSING-fallback}") == "fallback");
  CHECK(expand("${USER:-fallback}") == "robot");
  CHECK(expand("${MISSING:-a-b:c}") == "a-b:c");
  CHECK(expand("${EMPTY}") == "");
}

TEST_CASE("expand: literal dollars") {
  CHECK(expand("$$") == "$");
  CHECK(expand("$${USER}") == "${USER}");
  CHECK(expand("cost $5") == "cost $5");
  CHECK(expand("$USER") == "$USER");
  CHECK(expand("end$") == "end$");
}

TEST_CASE("expand: errors") {
  auto missing = expand("${GITHUB_TOKEN}");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error() ==
        "environment variable GITHUB_TOKEN is not set; export it or write ${GITHUB_TOKEN:-default}");

  auto unclosed = expand("${USER");
  REQUIRE_FALSE(unclosed.has_value());
  CHECK(unclosed.error().find("is not closed") != std::string::npos);

  for (const char* text : {"${}", "${1A}", "${A B}", "${A:?x}", "${:-x}"}) {
    INFO("text: ", text);
    auto invalid = expand(text);
    REQUIRE_FALSE(invalid.has_value());
    CHECK(invalid.error().find("does not name a valid environment variable") != std::string::npos);
  }
}
