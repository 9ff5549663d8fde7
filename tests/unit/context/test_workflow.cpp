#include <doctest/doctest.h>

#include "context/scoped_env.hpp"
#include "multipush/context/context.hpp"
#include "multipush/util/error.hpp"

using multipush::UsageError;
using namespace multipush::context;

namespace {

const char* kPushPayload = R"({
  "ref": "refs/heads/main",
  "head_commit": {"id": "aaaa", "timestamp": "2024-03-14T09:08:07+02:00"},
  "commits": [{"id": "bbbb", "timestamp": "2024-01-01T00:00:00Z"}],
  "repository": {"name": "app", "owner": {"login": "Acme"}, "default_branch": "trunk",
                 "html_url": "https://github.com/Acme/app", "license": {"spdx_id": "MIT"}}
})";

}  // namespace

TEST_CASE("workflow context from env and payload") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_ACTIONS", "true"},
                 {"GITHUB_EVENT_NAME", "push"},
                 {"GITHUB_REF", "refs/heads/main"},
                 {"GITHUB_SHA", "aaaa"},
                 {"GITHUB_REPOSITORY", "Acme/App"},
                 {"GITHUB_SERVER_URL", "https://github.com"},
                 {"GITHUB_RUN_ID", "42"},
                 {"GITHUB_EVENT_PATH", dir.write("event.json", kPushPayload).string()}});

  Context context = from_workflow();
  CHECK(context.source == Source::workflow);
  CHECK(context.github_actions);
  CHECK(context.event_name == "push");
  CHECK(context.ref == "refs/heads/main");
  CHECK(context.sha == "aaaa");
  CHECK(context.repository == "Acme/App");
  CHECK(context.default_branch == "trunk");
  CHECK(context.commit_date == "2024-03-14T09:08:07+02:00");
  CHECK(context.server_url == "https://github.com");
  CHECK(context.run_id == "42");
  CHECK(context.repository_data.at("license").at("spdx_id") == "MIT");
  CHECK(context.annotation_levels == "manifest");
  CHECK_FALSE(context.short_sha_length.has_value());
}

TEST_CASE("workflow commit date prefers commits list") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_NAME", "push"},
                 {"GITHUB_SHA", "bbbb"},
                 {"GITHUB_EVENT_PATH", dir.write("event.json", kPushPayload).string()}});
  CHECK(from_workflow().commit_date == "2024-01-01T00:00:00Z");
}

TEST_CASE("workflow commit date unknown sha") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_SHA", "cccc"}, {"GITHUB_EVENT_PATH", dir.write("event.json", kPushPayload).string()}});
  CHECK(from_workflow().commit_date.empty());
}

TEST_CASE("workflow repository from payload owner") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_PATH", dir.write("event.json", kPushPayload).string()}});
  CHECK(from_workflow().repository == "Acme/app");
}

TEST_CASE("workflow without payload file") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_NAME", "schedule"}, {"GITHUB_EVENT_PATH", (dir.path() / "missing.json").string()}});
  Context context = from_workflow();
  CHECK(context.payload == nlohmann::json::object());
  CHECK(context.default_branch.empty());
  CHECK_FALSE(context.github_actions);
}

TEST_CASE("workflow invalid payload names file") {
  TempDir dir;
  auto path = dir.write("event.json", "{not json");
  ScopedEnv env({{"GITHUB_EVENT_PATH", path.string()}});
  try {
    from_workflow();
    FAIL("expected UsageError");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
  }
}

// Found by the event payload fuzzer: nlohmann_json reports a number too
// large for a double as out_of_range, not as a parse error.
TEST_CASE("workflow payload number overflow") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_PATH", dir.write("event.json", R"({"n": 6e66666})").string()}});
  CHECK_THROWS_AS(from_workflow(), UsageError);
}

TEST_CASE("workflow payload must be an object") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_PATH", dir.write("event.json", "[1, 2]").string()}});
  CHECK_THROWS_AS(from_workflow(), UsageError);
}

TEST_CASE("workflow pull_request_target ref rewrite") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_EVENT_NAME", "pull_request_target"},
                 {"GITHUB_REF", "refs/heads/main"},
                 {"GITHUB_EVENT_PATH", dir.write("event.json", R"({"number": 15})").string()}});
  CHECK(from_workflow().ref == "refs/pull/15/merge");

  env.set("GITHUB_EVENT_PATH", dir.write("empty.json", "{}").string());
  CHECK(from_workflow().ref == "refs/pull/undefined/merge");
}

TEST_CASE("workflow PR head sha override") {
  TempDir dir;
  const char* payload = R"({"number": 3, "pull_request": {"head": {"sha": "headsha"}}})";
  ScopedEnv env({{"GITHUB_EVENT_NAME", "pull_request"},
                 {"GITHUB_SHA", "mergesha"},
                 {"GITHUB_EVENT_PATH", dir.write("event.json", payload).string()}});
  CHECK(from_workflow().sha == "mergesha");

  env.set("DOCKER_METADATA_PR_HEAD_SHA", "TRUE");
  CHECK(from_workflow().sha == "headsha");

  env.set("DOCKER_METADATA_PR_HEAD_SHA", "1");
  CHECK(from_workflow().sha == "mergesha");

  env.set("DOCKER_METADATA_PR_HEAD_SHA", "true");
  env.set("GITHUB_EVENT_NAME", "push");
  CHECK(from_workflow().sha == "mergesha");
}

TEST_CASE("workflow metadata settings") {
  ScopedEnv env({{"DOCKER_METADATA_SHORT_SHA_LENGTH", "12"},
                 {"DOCKER_METADATA_ANNOTATIONS_LEVELS", "manifest,index"},
                 {"SOURCE_DATE_EPOCH", "1700000000"}});
  Context context = from_workflow();
  CHECK(context.short_sha_length == "12");
  CHECK(context.annotation_levels == "manifest,index");
  CHECK(context.source_date_epoch == "1700000000");
}

TEST_CASE("load picks source") {
  TempDir dir;
  ScopedEnv env({{"GITHUB_ACTIONS", "true"}, {"GITHUB_EVENT_NAME", "release"}});
  CHECK(load(std::nullopt, dir.path()).source == Source::workflow);
  CHECK(load(Source::workflow, dir.path()).event_name == "release");
  CHECK(load(Source::git, dir.path()).source == Source::git);  // not a git checkout: a warning only
}

TEST_CASE("pull-request-like events") {
  auto with = [](std::string event, nlohmann::json payload) {
    Context context;
    context.event_name = std::move(event);
    context.payload = std::move(payload);
    return context;
  };
  const auto empty = nlohmann::json::object();

  CHECK(is_pull_request_like(with("pull_request", empty)));
  CHECK(is_pull_request_like(with("pull_request_target", empty)));
  CHECK(is_pull_request_like(with("merge_group", empty)));
  CHECK(is_pull_request_like(with("workflow_run", {{"workflow_run", {{"event", "pull_request"}}}})));
  CHECK(is_pull_request_like(with("workflow_run", {{"workflow_run", {{"event", "pull_request_target"}}}})));
  CHECK(is_pull_request_like(with("push", {{"deleted", true}})));

  CHECK_FALSE(is_pull_request_like(with("workflow_run", {{"workflow_run", {{"event", "push"}}}})));
  CHECK_FALSE(is_pull_request_like(with("workflow_run", empty)));
  CHECK_FALSE(is_pull_request_like(with("push", {{"deleted", false}})));
  CHECK_FALSE(is_pull_request_like(with("push", empty)));
  CHECK_FALSE(is_pull_request_like(with("schedule", empty)));
  CHECK_FALSE(is_pull_request_like(with("release", empty)));
  CHECK_FALSE(is_pull_request_like(with("workflow_dispatch", empty)));
}
