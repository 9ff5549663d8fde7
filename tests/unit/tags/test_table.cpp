// Runs the hand-written table in tests/data/metadata/table-cases.json: each
// case names what it covers, gives a ref, an event and the action's inputs,
// and the tags (without images unless it lists some) the spec says result.
#include <doctest/doctest.h>

#include <fstream>

#include "context/scoped_env.hpp"
#include "multipush/tags/tags.hpp"
#include "multipush/util/error.hpp"
#include "tags/date_format.hpp"

using namespace multipush;

namespace {

constexpr const char* kSha = "0123456789abcdef0123456789abcdef01234567";

std::vector<std::string> list(const nlohmann::json& test, const char* key) {
  if (!test.contains(key)) return {};
  return test.at(key).get<std::vector<std::string>>();
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += item + "\n";
  return text;
}

}  // namespace

TEST_CASE("hand-written metadata table") {
  std::ifstream file(MULTIPUSH_SOURCE_DIR "/tests/data/metadata/table-cases.json");
  REQUIRE(file.good());
  const auto cases = nlohmann::json::parse(file);
  REQUIRE(cases.size() >= 200);
  TempDir dir;

  int index = 0;
  for (const auto& test : cases) {
    const std::string name = test.at("name");
    INFO("case " << name);
    ScopedEnv env;
    env.set("GITHUB_EVENT_NAME", test.value("event", "push"));
    env.set("GITHUB_REF", test.at("ref").get<std::string>());
    env.set("GITHUB_SHA", test.value("sha", kSha));
    env.set("GITHUB_REPOSITORY", "acme/app");
    if (test.contains("env")) {
      for (const auto& [key, value] : test.at("env").items()) env.set(key, value.get<std::string>());
    }
    nlohmann::json payload = {{"repository", {{"name", "app"}, {"default_branch", "main"}}}};
    if (test.contains("payload")) payload.update(test.at("payload"));
    env.set("GITHUB_EVENT_PATH", dir.write("case" + std::to_string(index++) + ".json", payload.dump()).string());

    tags::Inputs inputs{list(test, "images"), list(test, "tags"), list(test, "flavor"), list(test, "labels"), {}};
    const auto now = tags::parse_iso8601(test.value("now", "2024-03-15T22:45:30.123Z"));
    REQUIRE(now.has_value());

    if (test.value("error", false)) {
      CHECK_THROWS_AS(tags::compute(context::from_workflow(), inputs, *now), UsageError);
      continue;
    }
    tags::Metadata metadata;
    try {
      metadata = tags::compute(context::from_workflow(), inputs, *now);
    } catch (const std::exception& e) {
      FAIL_CHECK("compute threw: " << e.what());
      continue;
    }
    CHECK(joined(metadata.tags) == joined(list(test, "expect")));
    if (test.contains("labels_expect")) {
      for (const auto& [key, value] : test.at("labels_expect").items()) {
        auto it = std::find_if(metadata.labels.begin(), metadata.labels.end(),
                               [&key](const auto& label) { return label.first == key; });
        INFO("label " << key);
        REQUIRE(it != metadata.labels.end());
        CHECK(it->second == value.get<std::string>());
      }
    }
  }
}
