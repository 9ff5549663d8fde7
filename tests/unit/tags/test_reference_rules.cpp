#include <doctest/doctest.h>

#include <algorithm>

#include "multipush/tags/tags.hpp"
#include "multipush/util/error.hpp"
#include "tags/date_format.hpp"

using namespace multipush;

namespace {

constexpr const char* kSha = "3f786850e387550fdab836ed7e6dc881de23001b";

// The tag rules and flavor of the reference project's multipush.yaml.
tags::Inputs reference_inputs() {
  tags::Inputs inputs;
  inputs.images = {"docker.io/openim/openkf-server", "ghcr.io/OpenIMSDK/openkf-server"};
  inputs.tags = {"type=ref,event=tag",
                 "type=schedule",
                 "type=ref,event=branch",
                 "type=ref,event=pr",
                 "type=semver,pattern={{version}}",
                 "type=semver,pattern=v{{version}}",
                 "type=semver,pattern={{major}}.{{minor}}",
                 "type=semver,pattern={{major}}",
                 "type=sha"};
  inputs.flavor = {"latest=auto"};
  return inputs;
}

context::Context make_context(std::string event, std::string ref) {
  context::Context context;
  context.event_name = std::move(event);
  context.ref = std::move(ref);
  context.sha = kSha;
  context.repository = "OpenIMSDK/OpenKF";
  context.default_branch = "main";
  context.repository_data = {{"name", "OpenKF"},
                             {"description", "Customer service"},
                             {"html_url", "https://github.com/OpenIMSDK/OpenKF"},
                             {"default_branch", "main"},
                             {"license", {{"spdx_id", "Apache-2.0"}}}};
  return context;
}

std::chrono::system_clock::time_point now() { return *tags::parse_iso8601("2024-03-15T22:45:30.123Z"); }

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("reference rules on v1.2.3 tag push") {
  auto metadata = tags::compute(make_context("push", "refs/tags/v1.2.3"), reference_inputs(), now());
  CHECK(metadata.version == "1.2.3");
  CHECK(metadata.tag_names == Names{"1.2.3", "v1.2.3", "1.2", "1", "sha-3f78685", "latest"});
  REQUIRE(metadata.tags.size() == 12);
  CHECK(metadata.tags[0] == "docker.io/openim/openkf-server:1.2.3");
  CHECK(metadata.tags[5] == "docker.io/openim/openkf-server:latest");
  CHECK(metadata.tags[6] == "ghcr.io/openimsdk/openkf-server:1.2.3");
  CHECK(metadata.tags[11] == "ghcr.io/openimsdk/openkf-server:latest");
  CHECK(metadata.warnings.empty());
}

TEST_CASE("reference rules on prerelease tag push") {
  auto metadata = tags::compute(make_context("push", "refs/tags/v2.0.0-rc.1"), reference_inputs(), now());
  CHECK(metadata.version == "2.0.0-rc.1");
  // Every semver pattern collapses to the full version, and there is no latest.
  CHECK(metadata.tag_names == Names{"2.0.0-rc.1", "v2.0.0-rc.1", "sha-3f78685"});
}

TEST_CASE("reference rules on release-v3.8 branch push") {
  auto metadata = tags::compute(make_context("push", "refs/heads/release-v3.8"), reference_inputs(), now());
  CHECK(metadata.version == "release-v3.8");
  CHECK(metadata.tag_names == Names{"release-v3.8", "sha-3f78685"});
  CHECK(metadata.tags.front() == "docker.io/openim/openkf-server:release-v3.8");
}

TEST_CASE("reference rules on schedule run") {
  auto metadata = tags::compute(make_context("schedule", "refs/heads/main"), reference_inputs(), now());
  CHECK(metadata.version == "nightly");
  CHECK(metadata.tag_names == Names{"nightly", "main", "sha-3f78685"});
}

TEST_CASE("reference rules on pull request") {
  auto context = make_context("pull_request", "refs/pull/7/merge");
  CHECK(context::is_pull_request_like(context));
  auto metadata = tags::compute(context, reference_inputs(), now());
  CHECK(metadata.version == "pr-7");
  CHECK(metadata.tag_names == Names{"pr-7", "sha-3f78685"});
}

TEST_CASE("reference rules labels") {
  auto metadata = tags::compute(make_context("push", "refs/tags/v1.2.3"), reference_inputs(), now());
  using Labels = std::vector<std::pair<std::string, std::string>>;
  CHECK(metadata.labels == Labels{{"org.opencontainers.image.created", "2024-03-15T22:45:30.123Z"},
                                  {"org.opencontainers.image.description", "Customer service"},
                                  {"org.opencontainers.image.licenses", "Apache-2.0"},
                                  {"org.opencontainers.image.revision", kSha},
                                  {"org.opencontainers.image.source", "https://github.com/OpenIMSDK/OpenKF"},
                                  {"org.opencontainers.image.title", "OpenKF"},
                                  {"org.opencontainers.image.url", "https://github.com/OpenIMSDK/OpenKF"},
                                  {"org.opencontainers.image.version", "1.2.3"}});
  REQUIRE(metadata.annotations.size() == 8);
  CHECK(metadata.annotations[0] == "manifest:org.opencontainers.image.created=2024-03-15T22:45:30.123Z");
}

TEST_CASE("schedule date pattern with tz") {
  tags::Inputs inputs;
  inputs.images = {"org/app"};
  inputs.tags = {"type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
                 "type=schedule,pattern=nightly-{{date 'YYYY.MM.DD'}}"};
  auto metadata = tags::compute(make_context("schedule", "refs/heads/main"), inputs, now());
  CHECK(metadata.tag_names == Names{"20240316-074530", "nightly-2024.03.15"});
}

TEST_CASE("SOURCE_DATE_EPOCH sets created") {
  auto context = make_context("push", "refs/heads/main");
  context.source_date_epoch = "1700000000";
  auto metadata = tags::compute(context, reference_inputs(), now());
  auto created = std::find_if(metadata.labels.begin(), metadata.labels.end(),
                              [](const auto& label) { return label.first == "org.opencontainers.image.created"; });
  REQUIRE(created != metadata.labels.end());
  CHECK(created->second == "2023-11-14T22:13:20.000Z");

  context.source_date_epoch = "yesterday";
  CHECK_THROWS_AS(tags::compute(context, reference_inputs(), now()), UsageError);
}
