#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "context/scoped_env.hpp"
#include "multipush/util/error.hpp"
#include "pipeline/plan.hpp"

using multipush::UsageError;
using multipush::config::PushWhen;
using multipush::pipeline::make_plan;
using multipush::pipeline::Options;
using multipush::pipeline::Plan;
using Strings = std::vector<std::string>;

namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

// The mixed-case image name makes the plan lower-case the repositories, as
// metadata-action does. The config rejects upper-case namespaces itself.
const std::string kConfig = R"(
platforms: [linux/amd64, linux/arm64]
registries:
  127.0.0.1:5000: { namespace: openim }
  ghcr.io: { namespace: openimsdk/team }
  registry.example.com: {}
targets:
  server: { context: server, image: OpenKF-Server }
  web: { context: web, image: openkf-web }
tags:
  - type=semver,pattern={{version}}
  - type=semver,pattern={{major}}.{{minor}}
  - type=ref,event=pr
flavor: [latest=false]
)";

std::map<std::string, std::string> tag_push_env(const TempDir& dir) {
  return {{"GITHUB_ACTIONS", "true"},
          {"GITHUB_EVENT_NAME", "push"},
          {"GITHUB_REF", "refs/tags/v1.2.3"},
          {"GITHUB_SHA", kSha},
          {"GITHUB_REPOSITORY", "openimsdk/openkf"},
          {"GITHUB_EVENT_PATH", (dir.path() / "no-event.json").string()}};
}

std::map<std::string, std::string> pull_request_env(const TempDir& dir) {
  auto env = tag_push_env(dir);
  env["GITHUB_EVENT_NAME"] = "pull_request";
  env["GITHUB_REF"] = "refs/pull/7/merge";
  env["GITHUB_BASE_REF"] = "main";
  env["GITHUB_HEAD_REF"] = "feature";
  return env;
}

Options options_for(const TempDir& dir, const std::string& config_text) {
  Options options;
  options.file = dir.write("multipush.yaml", config_text);
  options.cwd = dir.path();
  options.context_mode = multipush::pipeline::ContextMode::workflow;
  return options;
}

Strings repository_names(const multipush::pipeline::TargetPlan& target) {
  Strings names;
  for (const auto& destination : target.destinations) names.push_back(destination.repository.name());
  return names;
}

// Returns the message of the UsageError that make_plan throws.
std::string usage_error_of(const Options& options) {
  try {
    make_plan(options);
  } catch (const UsageError& error) {
    return error.what();
  }
  FAIL("expected make_plan to throw UsageError");
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("plan: destinations per registry") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Plan plan = make_plan(options_for(dir, kConfig));

  REQUIRE(plan.targets.size() == 2);
  CHECK(plan.targets[0].target->name == "server");
  CHECK(plan.targets[1].target->name == "web");
  CHECK(repository_names(plan.targets[0]) == Strings{"127.0.0.1:5000/openim/openkf-server",
                                                     "ghcr.io/openimsdk/team/openkf-server",
                                                     "registry.example.com/openkf-server"});
  CHECK(repository_names(plan.targets[1]) == Strings{"127.0.0.1:5000/openim/openkf-web",
                                                     "ghcr.io/openimsdk/team/openkf-web",
                                                     "registry.example.com/openkf-web"});

  const auto& first = plan.targets[0].destinations[0];
  CHECK(first.registry == "127.0.0.1:5000");
  CHECK(first.repository.repository == "openim/openkf-server");
  CHECK_FALSE(first.repository.tag.has_value());
  CHECK_FALSE(first.repository.digest.has_value());
  REQUIRE(first.registry_config != nullptr);
  CHECK(first.registry_config->host == "127.0.0.1:5000");
}

TEST_CASE("plan: tags for tag push") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Plan plan = make_plan(options_for(dir, kConfig));

  CHECK(plan.push);
  CHECK(plan.push_reason.empty());
  CHECK(plan.context.event_name == "push");
  REQUIRE(plan.targets.size() == 2);
  for (const auto& target : plan.targets) {
    CAPTURE(target.target->name);
    CHECK(target.metadata.version == "1.2.3");
    CHECK(target.metadata.tag_names == Strings{"1.2.3", "1.2"});
    for (const auto& destination : target.destinations) {
      CAPTURE(destination.repository.name());
      CHECK(destination.tags == Strings{"1.2.3", "1.2"});
    }
  }
  // The full references name every destination repository.
  const Strings& full = plan.targets[0].metadata.tags;
  CHECK(std::count(full.begin(), full.end(), "127.0.0.1:5000/openim/openkf-server:1.2.3") == 1);
  CHECK(std::count(full.begin(), full.end(), "ghcr.io/openimsdk/team/openkf-server:1.2") == 1);
  CHECK(std::count(full.begin(), full.end(), "registry.example.com/openkf-server:1.2.3") == 1);
}

TEST_CASE("plan: latest auto on tag push") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  const std::string config = R"(
registries:
  127.0.0.1:5000: { namespace: openim }
targets:
  server: { image: openkf-server }
tags:
  - type=semver,pattern={{version}}
  - type=sha
flavor: [latest=auto]
)";
  Plan plan = make_plan(options_for(dir, config));

  REQUIRE(plan.targets.size() == 1);
  const Strings& names = plan.targets[0].metadata.tag_names;
  CHECK(std::count(names.begin(), names.end(), "1.2.3") == 1);
  CHECK(std::count(names.begin(), names.end(), "latest") == 1);
  CHECK(std::count(names.begin(), names.end(), "sha-0123456") == 1);
  CHECK(names.size() == 3);
}

TEST_CASE("plan: selected targets only") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Options options = options_for(dir, kConfig);
  options.targets = {"web"};
  Plan plan = make_plan(options);

  REQUIRE(plan.targets.size() == 1);
  CHECK(plan.targets[0].target->name == "web");
}

TEST_CASE("plan: pull request does not push") {
  TempDir dir;
  ScopedEnv env(pull_request_env(dir));
  Plan plan = make_plan(options_for(dir, kConfig));

  CHECK_FALSE(plan.push);
  CHECK(contains(plan.push_reason, "pull_request"));
  CHECK(contains(plan.push_reason, "--push=always"));
  REQUIRE(plan.targets.size() == 2);
  CHECK(plan.targets[0].metadata.tag_names == Strings{"pr-7"});
}

TEST_CASE("plan: push always overrides pull request") {
  TempDir dir;
  ScopedEnv env(pull_request_env(dir));
  Options options = options_for(dir, kConfig);
  options.push = PushWhen::always;
  Plan plan = make_plan(options);

  CHECK(plan.push);
  CHECK(plan.push_reason.empty());
}

TEST_CASE("plan: push never option") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Options options = options_for(dir, kConfig);
  options.push = PushWhen::never;
  Plan plan = make_plan(options);

  CHECK_FALSE(plan.push);
  CHECK(plan.push_reason == "--push=never");
}

TEST_CASE("plan: push when never in config") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Plan plan = make_plan(options_for(dir, kConfig + "push: { when: never }\n"));

  CHECK(plan.config.push.when == PushWhen::never);
  CHECK_FALSE(plan.push);
  CHECK(plan.push_reason == "push.when: never");
}

TEST_CASE("plan: push always option beats config never") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Options options = options_for(dir, kConfig + "push: { when: never }\n");
  options.push = PushWhen::always;
  Plan plan = make_plan(options);

  CHECK(plan.push);
}

TEST_CASE("plan: invalid computed tag") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  const std::string config = R"(
registries:
  127.0.0.1:5000: { namespace: openim }
targets:
  server: { image: openkf-server }
tags:
  - type=semver,pattern={{version}},prefix=-
flavor: [latest=false]
)";
  const std::string message = usage_error_of(options_for(dir, config));

  CHECK(contains(message, "\"-1.2.3\""));
  CHECK(contains(message, "server"));
  CHECK(contains(message, "not a valid tag"));
}

TEST_CASE("plan: unknown target lists known") {
  TempDir dir;
  ScopedEnv env(tag_push_env(dir));
  Options options = options_for(dir, kConfig);
  options.targets = {"server", "api"};
  const std::string message = usage_error_of(options);

  CHECK(contains(message, "\"api\""));
  CHECK(contains(message, "server"));
  CHECK(contains(message, "web"));
}
