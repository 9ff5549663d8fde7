#include <doctest/doctest.h>

#include <algorithm>

#include "build/buildx.hpp"
#include "build_fixture.hpp"
#include "multipush/build/build.hpp"
#include "multipush/util/error.hpp"

using multipush::ExitCode;
using multipush::Fatal;
using multipush::UsageError;
using namespace multipush::build;
namespace fs = std::filesystem;

namespace {

struct TwoTargets {
  multipush::config::Target server;
  multipush::config::Target web;
  Request request;
  std::map<std::string, fs::path> layouts{{"server", "/run/multipush/layouts/server"},
                                          {"web", "/run/multipush/layouts/web"}};

  TwoTargets() {
    server.name = "server";
    server.context = "/src/openkf/server";
    server.dockerfile = "/src/openkf/deploy/docker/Dockerfile.server";
    server.platforms = {"linux/amd64", "linux/arm64"};
    server.args = {{"VERSION", "1.2.3"}, {"GO_VERSION", "1.21"}};
    server.target = "runtime";
    server.labels = {"org.opencontainers.image.version=1.2.3-custom"};
    server.annotations = {"index,manifest:org.opencontainers.image.description=OpenKF server"};

    web.name = "web";
    web.context = "/src/openkf/web";
    web.dockerfile = "/src/openkf/deploy/docker/Dockerfile.web";
    web.platforms = {"linux/amd64"};

    TargetSpec server_spec;
    server_spec.target = &server;
    server_spec.tags = {"docker.io/openim/openkf-server:1.2.3", "ghcr.io/openimsdk/openkf-server:1.2.3"};
    server_spec.labels = {{"org.opencontainers.image.source", "https://github.com/openimsdk/openkf"},
                          {"org.opencontainers.image.title", "openkf-server"},
                          {"org.opencontainers.image.version", "1.2.3"}};
    server_spec.annotations = {"manifest:org.opencontainers.image.version=1.2.3",
                               "index,manifest:org.opencontainers.image.description=OpenKF server"};
    TargetSpec web_spec;
    web_spec.target = &web;

    request.targets = {server_spec, web_spec};
    request.build.cache_from = {"type=gha"};
    request.build.cache_to = {"type=gha,mode=max"};
    request.build.attest = {"type=provenance,mode=min"};
    request.docker_global_args = {"--config", "/home/ci/.docker", "--context", "ci"};
    request.docker_command = "/usr/bin/docker";
    request.work_dir = "/run/multipush";
  }
};

detail::BakeInvocation invocation(bool allow) {
  detail::BakeInvocation result;
  result.definition_file = "/run/multipush/bake.json";
  result.metadata_file = "/run/multipush/bake-metadata.json";
  result.write_dirs = {"/run/multipush/layouts/server", "/run/multipush/layouts/web"};
  result.read_dirs = {"/src/openkf"};
  result.allow_flag = allow;
  return result;
}

}  // namespace

TEST_CASE("bake definition matches golden file") {
  TwoTargets fixture;
  const auto expected = build_test::read_json(fs::path(MULTIPUSH_SOURCE_DIR) / "tests/data/build/bake-two-targets.json");
  const auto actual = bake_definition(fixture.request, fixture.layouts);
  CHECK_MESSAGE(actual == expected, actual.dump(2));
}

TEST_CASE("bake definition writes strings only") {
  TwoTargets fixture;
  const auto definition = bake_definition(fixture.request, fixture.layouts);
  for (const auto& [name, target] : definition["target"].items()) {
    CHECK_FALSE(target.contains("platform"));
    for (const char* key : {"output", "cache-from", "cache-to", "attest"}) {
      REQUIRE(target[key].is_array());
      for (const auto& entry : target[key]) CHECK(entry.is_string());
    }
  }
}

TEST_CASE("bake definition quotes dest with comma") {
  TwoTargets fixture;
  fixture.layouts["server"] = "/run/a,b/server";
  const auto definition = bake_definition(fixture.request, fixture.layouts);
  CHECK(definition["target"]["server"]["output"][0] == "type=oci,\"dest=/run/a,b/server\",tar=false");
}

TEST_CASE("bake definition rejects dotted target name") {
  TwoTargets fixture;
  fixture.server.name = "server.v2";
  fixture.layouts["server.v2"] = "/run/multipush/layouts/server.v2";
  CHECK_THROWS_AS(bake_definition(fixture.request, fixture.layouts), UsageError);
}

TEST_CASE("bake definition rejects invalid target label") {
  TwoTargets fixture;
  fixture.server.labels = {"no-equals-sign"};
  CHECK_THROWS_AS(bake_definition(fixture.request, fixture.layouts), UsageError);
}

TEST_CASE("bake command with allow flag") {
  TwoTargets fixture;
  fixture.request.build.bake_files = {"/src/openkf/docker-bake.hcl"};
  const std::vector<std::string> expected{
      "/usr/bin/docker", "--config", "/home/ci/.docker", "--context", "ci", "buildx", "bake",
      "-f", "/src/openkf/docker-bake.hcl",
      "-f", "/run/multipush/bake.json",
      "--metadata-file", "/run/multipush/bake-metadata.json",
      "--allow", "fs.write=/run/multipush/layouts/server",
      "--allow", "fs.write=/run/multipush/layouts/web",
      "--allow", "fs.read=/src/openkf",
      "--progress=auto", "server", "web"};
  CHECK(detail::bake_command(fixture.request, invocation(true)) == expected);
}

TEST_CASE("bake command without allow flag") {
  TwoTargets fixture;
  fixture.request.github_actions = true;
  const auto argv = detail::bake_command(fixture.request, invocation(false));
  CHECK(std::find(argv.begin(), argv.end(), "--allow") == argv.end());
  CHECK(std::find(argv.begin(), argv.end(), "--progress=plain") != argv.end());
  CHECK(argv.back() == "web");
}

TEST_CASE("metadata digest per target") {
  const auto metadata = nlohmann::json::parse(R"({
    "server": {"containerimage.digest": "sha256:aaaa", "containerimage.descriptor": {"size": 1}},
    "web": {"image.name": "docker.io/openim/openkf-web:1.2.3"}
  })");
  CHECK(detail::metadata_digest(metadata, "server", "/run/m.json") == "sha256:aaaa");

  try {
    detail::metadata_digest(metadata, "web", "/run/m.json");
    FAIL("a missing containerimage.digest must throw");
  } catch (const Fatal& error) {
    CHECK(error.code() == ExitCode::build_failed);
    const std::string message = error.what();
    CHECK(message.find("\"web\"") != std::string::npos);
    CHECK(message.find("/run/m.json") != std::string::npos);
  }
  CHECK_THROWS_AS(detail::metadata_digest(metadata, "bot", "/run/m.json"), Fatal);
}
