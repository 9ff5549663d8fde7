#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include "context/scoped_env.hpp"
#include "multipush/tags/tags.hpp"
#include "multipush/util/error.hpp"
#include "tags/date_format.hpp"

using namespace multipush;

namespace {

template <typename Json = nlohmann::json>
Json load_vectors() {
  std::ifstream file(MULTIPUSH_SOURCE_DIR "/tests/data/metadata/metadata-vectors.json");
  REQUIRE(file.good());
  return Json::parse(file);
}

std::vector<std::string> string_list(const nlohmann::json& inputs, const char* key) {
  if (!inputs.contains(key)) return {};
  return inputs.at(key).get<std::vector<std::string>>();
}

// Joins a list so that a failed check prints both sides.
std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += item + "\n";
  return text;
}

std::string joined(const nlohmann::json& items) { return joined(items.get<std::vector<std::string>>()); }

}  // namespace

TEST_CASE("vectors from metadata-action") {
  const auto vectors = load_vectors();
  // The same file with its key order kept, for the json and bake outputs.
  const auto ordered_vectors = load_vectors<nlohmann::ordered_json>();
  std::size_t index = 0;
  REQUIRE(vectors.size() >= 100);

  int ran = 0;
  std::set<std::string> rules_run;
  TempDir dir;

  for (const auto& vector : vectors) {
    const auto& ordered_expected = ordered_vectors.at(index++).at("expected");
    const std::string id = vector.at("id");
    INFO("vector " << id);
    ++ran;

    ScopedEnv env;
    for (const auto& [name, value] : vector.at("env").items()) env.set(name, value.get<std::string>());
    if (!vector.at("event").is_null()) {
      env.set("GITHUB_EVENT_PATH", dir.write(id + ".json", vector.at("event").dump()).string());
    }
    context::Context context = context::from_workflow();
    // The action reads these from the REST API when the payload lacks them.
    if (vector.contains("repo")) context.repository_data = vector.at("repo");

    const auto& in = vector.at("inputs");
    tags::Inputs inputs{string_list(in, "images"), string_list(in, "tags"), string_list(in, "flavor"),
                        string_list(in, "labels"), string_list(in, "annotations")};
    const auto now = tags::parse_iso8601(vector.at("now").get<std::string>());
    REQUIRE(now.has_value());

    const auto& expected = vector.at("expected");
    if (expected.contains("error")) {
      CHECK_THROWS_AS(tags::compute(context, inputs, *now), UsageError);
      continue;
    }
    for (const auto& rule : inputs.tags) rules_run.insert(rule);
    if (inputs.tags.empty()) rules_run.insert("(default rules)");
    for (const auto& rule : inputs.flavor) rules_run.insert(rule);

    tags::Metadata metadata;
    try {
      metadata = tags::compute(context, inputs, *now);
    } catch (const std::exception& e) {
      FAIL_CHECK("compute threw: " << e.what());
      continue;
    }
    CHECK(metadata.version == expected.at("version").get<std::string>());
    CHECK(joined(metadata.tags) == joined(expected.at("tags")));

    // The expected labels leave out `created`, which must be `now`.
    std::map<std::string, std::string> labels(metadata.labels.begin(), metadata.labels.end());
    CHECK(labels["org.opencontainers.image.created"] == vector.at("now").get<std::string>());
    labels.erase("org.opencontainers.image.created");
    CHECK(nlohmann::json(labels).dump(1) == expected.at("labels").dump(1));

    if (expected.contains("annotations")) {
      CHECK(joined(metadata.annotations) == joined(expected.at("annotations")));
    }
    if (expected.contains("tag_names")) {
      CHECK(joined(metadata.tag_names) == joined(expected.at("tag_names")));
    }

    // The outputs built from the metadata, compared as JSON text so that key order counts.
    tags::OutputSettings settings;
    if (in.contains("sep-tags")) settings.sep_tags = in.at("sep-tags").get<std::string>();
    if (in.contains("bake-target")) settings.bake_target = in.at("bake-target").get<std::string>();
    if (expected.contains("tags_output")) {
      auto outputs = tags::action_outputs(metadata, settings, {});
      CHECK(outputs.at(1).first == "tags");
      CHECK(outputs.at(1).second == expected.at("tags_output").get<std::string>());
    }
    if (expected.contains("json")) CHECK(tags::json_output(metadata).dump() == ordered_expected.at("json").dump());
    const std::pair<const char*, tags::BakeKind> bake_kinds[] = {{"bake", tags::BakeKind::all},
                                                                   {"bake_tags", tags::BakeKind::tags},
                                                                   {"bake_labels", tags::BakeKind::labels},
                                                                   {"bake_annotations", tags::BakeKind::annotations}};
    for (const auto& [key, kind] : bake_kinds) {
      if (!expected.contains(key)) continue;
      INFO("bake file " << key);
      CHECK(tags::bake_file(metadata, kind, settings.bake_target).dump() == ordered_expected.at(key).dump());
    }
  }

  MESSAGE("metadata vectors: " << ran << " ran");

  // The run must cover every rule of the reference project's configuration.
  for (const char* rule : {"type=ref,event=branch", "type=ref,event=pr", "type=ref,event=tag", "type=schedule",
                           "type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}",
                           "type=semver,pattern={{major}}", "type=sha", "(default rules)"}) {
    INFO("rule " << rule);
    CHECK(rules_run.contains(rule));
  }
  CHECK(ran == static_cast<int>(vectors.size()));
}
