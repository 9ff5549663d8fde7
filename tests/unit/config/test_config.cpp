#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "multipush/config/config.hpp"
#include "multipush/util/error.hpp"

namespace fs = std::filesystem;
using multipush::UsageError;
using namespace multipush::config;

namespace {

const fs::path kFile = "/srv/project/multipush.yaml";

// The smallest valid file, to which each test adds the keys it checks.
const std::string kMinimal = R"(
registries:
  ghcr.io: { namespace: acme }
targets:
  app: {}
)";

Config parse(const std::string& text) {
  return parse_config(text, kFile);
}

// Returns the message of the UsageError that parsing `text` throws.
std::string error_of(const std::string& text) {
  try {
    parse_config(text, kFile);
  } catch (const UsageError& error) {
    return error.what();
  }
  FAIL("expected a UsageError for:\n", text);
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("config: defaults") {
  Config config = parse(kMinimal);
  CHECK(config.file == kFile);
  CHECK(config.base_dir == "/srv/project");
  CHECK(config.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64"});
  CHECK(config.log.dir == "/srv/project/.multipush/runs");
  CHECK(config.log.keep == 50);
  CHECK(config.build.builder == Builder::automatic);
  CHECK(config.push.when == PushWhen::automatic);
  CHECK(config.push.preflight == Preflight::warn);
  CHECK_FALSE(config.push.stage.has_value());
  CHECK(config.notify.empty());
  CHECK(config.tags.empty());

  REQUIRE(config.registries.size() == 1);
  const Registry& registry = config.registries[0];
  CHECK(registry.host == "ghcr.io");
  CHECK(registry.namespace_ == "acme");
  CHECK_FALSE(registry.username.has_value());
  CHECK_FALSE(registry.insecure);
  CHECK(registry.attestations == AttestationPolicy::keep);
  CHECK_FALSE(registry.chunk_size.has_value());
  CHECK(registry.max_connections == 4);
  CHECK(registry.location.line == 3);

  REQUIRE(config.targets.size() == 1);
  const Target& target = config.targets[0];
  CHECK(target.name == "app");
  CHECK(target.context == "/srv/project");
  CHECK(target.dockerfile == "/srv/project/Dockerfile");
  CHECK(target.image == "app");
  CHECK(target.platforms == config.platforms);
  CHECK(target.location.line == 5);
  CHECK(config.digest.starts_with("sha256:"));
  CHECK(config.digest.size() == 71);
}

TEST_CASE("config: every key") {
  setenv("MULTIPUSH_TEST_USER", "robot", 1);
  setenv("MULTIPUSH_TEST_PASSWORD", "s3cret-value", 1);
  Config config = parse(R"(
platforms: [linux/amd64, linux/arm/v7]
registries:
  Index.Docker.IO: { namespace: openim }
  localhost:5000:
    namespace: team/sub
    username: ${MULTIPUSH_TEST_USER}
    password: ${MULTIPUSH_TEST_PASSWORD}
    insecure: true
    attestations: drop
    chunk-size: 4MiB
    max-connections: 8
targets:
  server:
    context: server
    dockerfile: deploy/Dockerfile.server
    image: openkf-server
    args: { GO_VERSION: "1.22", DEBUG: 1 }
    target: release
    labels: [org.opencontainers.image.vendor=acme]
    annotations: ["index:org.opencontainers.image.title=server"]
    platforms: [linux/amd64]
  web:
    images: [ghcr.io/acme/web, quay.io/acme/web]
tags:
  - type=ref,event=tag
  - type=sha
flavor: [latest=auto]
labels: |
  org.opencontainers.image.licenses=MIT
  maintainer=ops
annotations: [a=b]
build:
  builder: buildah
  bake-files: [docker-bake.hcl, /abs/extra.hcl]
  cache-from: [type=gha]
  cache-to: ["type=gha,mode=max"]
  attest: ["type=provenance,mode=min", type=sbom]
push:
  when: never
  stage: localhost:5000
  preflight: strict
notify:
  - { on: always, type: slack, url: "https://hooks.example.com/x", targets: [server], registries: [docker.io] }
  - type: github-issue
    secret: other-secret
log: { dir: /var/log/multipush, keep: 7 }
)");
  CHECK(config.platforms == std::vector<std::string>{"linux/amd64", "linux/arm/v7"});

  REQUIRE(config.registries.size() == 2);
  CHECK(config.registries[0].host == "docker.io");
  const Registry& local = config.registries[1];
  CHECK(local.host == "localhost:5000");
  CHECK(local.namespace_ == "team/sub");
  CHECK(local.username == "robot");
  CHECK(local.password == "s3cret-value");
  CHECK(local.insecure);
  CHECK(local.attestations == AttestationPolicy::drop);
  CHECK(local.chunk_size == 4u * 1024 * 1024);
  CHECK(local.max_connections == 8);
  CHECK(config.find_registry("index.docker.io") == &config.registries[0]);
  CHECK(config.find_registry("quay.io") == nullptr);

  REQUIRE(config.targets.size() == 2);
  const Target& server = config.targets[0];
  CHECK(server.context == "/srv/project/server");
  CHECK(server.dockerfile == "/srv/project/deploy/Dockerfile.server");
  CHECK(server.image == "openkf-server");
  CHECK(server.args.at("GO_VERSION") == "1.22");
  CHECK(server.args.at("DEBUG") == "1");
  CHECK(server.target == "release");
  CHECK(server.labels == std::vector<std::string>{"org.opencontainers.image.vendor=acme"});
  CHECK(server.annotations == std::vector<std::string>{"index:org.opencontainers.image.title=server"});
  CHECK(server.platforms == std::vector<std::string>{"linux/amd64"});

  const Target& web = config.targets[1];
  CHECK(web.platforms == config.platforms);
  REQUIRE(web.images.size() == 2);
  CHECK(web.images[0].reference.str() == "ghcr.io/acme/web");
  CHECK(web.images[1].location.line == 24);
  CHECK(config.find_target("web") == &web);
  CHECK(config.find_target("nope") == nullptr);

  CHECK(config.tags == std::vector<std::string>{"type=ref,event=tag", "type=sha"});
  CHECK(config.flavor == std::vector<std::string>{"latest=auto"});
  CHECK(config.labels == std::vector<std::string>{"org.opencontainers.image.licenses=MIT", "maintainer=ops"});
  CHECK(config.annotations == std::vector<std::string>{"a=b"});

  CHECK(config.build.builder == Builder::buildah);
  CHECK(config.build.bake_files == std::vector<fs::path>{"/srv/project/docker-bake.hcl", "/abs/extra.hcl"});
  CHECK(config.build.cache_from == std::vector<std::string>{"type=gha"});
  CHECK(config.build.cache_to == std::vector<std::string>{"type=gha,mode=max"});
  CHECK(config.build.attest == std::vector<std::string>{"type=provenance,mode=min", "type=sbom"});

  CHECK(config.push.when == PushWhen::never);
  CHECK(config.push.stage == "localhost:5000");
  CHECK(config.push.preflight == Preflight::strict);

  REQUIRE(config.notify.size() == 2);
  CHECK(config.notify[0].type == "slack");
  CHECK(config.notify[0].on == NotifyOn::always);
  CHECK(config.notify[0].url == "https://hooks.example.com/x");
  CHECK(config.notify[0].targets == std::vector<std::string>{"server"});
  CHECK(config.notify[0].registries == std::vector<std::string>{"docker.io"});
  CHECK(config.notify[0].location.line == 44);
  CHECK(config.notify[1].type == "github-issue");
  CHECK(config.notify[1].on == NotifyOn::failure);
  CHECK(config.notify[1].secret == "other-secret");

  CHECK(config.log.dir == "/var/log/multipush");
  CHECK(config.log.keep == 7);

  unsetenv("MULTIPUSH_TEST_USER");
  unsetenv("MULTIPUSH_TEST_PASSWORD");
}

TEST_CASE("config: destinations") {
  Config config = parse(R"(
registries:
  docker.io: {}
  ghcr.io: { namespace: acme }
targets:
  alpine: {}
  app: { images: [quay.io/acme/app] }
)");
  auto alpine = destinations(config, config.targets[0]);
  REQUIRE(alpine.size() == 2);
  CHECK(alpine[0].str() == "docker.io/library/alpine");
  CHECK(alpine[1].str() == "ghcr.io/acme/alpine");

  auto app = destinations(config, config.targets[1]);
  REQUIRE(app.size() == 1);
  CHECK(app[0].str() == "quay.io/acme/app");
}

TEST_CASE("config: path rules") {
  Config config = parse(R"(
registries: { ghcr.io: {} }
targets:
  a: { context: sub/dir/ }
  b: { context: ../other, dockerfile: ./docker/Dockerfile }
  c: { context: /abs/ctx, dockerfile: /abs/Dockerfile }
build: { bake-files: [bake/extra.hcl] }
log: { dir: logs }
)");
  // The dockerfile is relative to the config file's directory, not to context.
  CHECK(config.targets[0].context == "/srv/project/sub/dir");
  CHECK(config.targets[0].dockerfile == "/srv/project/Dockerfile");
  CHECK(config.targets[1].context == "/srv/other");
  CHECK(config.targets[1].dockerfile == "/srv/project/docker/Dockerfile");
  CHECK(config.targets[2].context == "/abs/ctx");
  CHECK(config.targets[2].dockerfile == "/abs/Dockerfile");
  CHECK(config.build.bake_files == std::vector<fs::path>{"/srv/project/bake/extra.hcl"});
  CHECK(config.log.dir == "/srv/project/logs");

  Config nested = parse_config(kMinimal, "/srv/project/.github/multipush.yaml");
  CHECK(nested.base_dir == "/srv/project/.github");
  CHECK(nested.targets[0].context == "/srv/project/.github");
}

TEST_CASE("config: list forms") {
  Config config = parse(kMinimal + R"(
platforms: "linux/amd64, linux/arm64/v8"
tags: |
  type=semver,pattern={{version}}

  type=ref,event=branch
)");
  CHECK(config.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64/v8"});
  CHECK(config.tags == std::vector<std::string>{"type=semver,pattern={{version}}", "type=ref,event=branch"});
}

TEST_CASE("config: env expansion") {
  setenv("MULTIPUSH_TEST_NS", "from-env", 1);
  setenv("MULTIPUSH_TEST_EMPTY", "", 1);
  unsetenv("MULTIPUSH_TEST_UNSET");

  Config config = parse(R"(
registries:
  ghcr.io: { namespace: "${MULTIPUSH_TEST_NS}" }
  quay.io: { namespace: "${MULTIPUSH_TEST_UNSET:-fallback}" }
  docker.io: { namespace: "${MULTIPUSH_TEST_EMPTY:-hub}" }
  localhost:5000: { namespace: "x${MULTIPUSH_TEST_EMPTY}y" }
targets:
  app: { args: { PRICE: "$$5 and $HOME" } }
)");
  CHECK(config.registries[0].namespace_ == "from-env");
  CHECK(config.registries[1].namespace_ == "fallback");
  CHECK(config.registries[2].namespace_ == "hub");
  CHECK(config.registries[3].namespace_ == "xy");
  CHECK(config.targets[0].args.at("PRICE") == "$5 and $HOME");

  unsetenv("MULTIPUSH_TEST_NS");
  unsetenv("MULTIPUSH_TEST_EMPTY");
}

TEST_CASE("config: missing variable") {
  unsetenv("MULTIPUSH_TEST_TOKEN");
  std::string message = error_of(R"(registries:
  ghcr.io:
    namespace: acme
    username: bot


    password: ${MULTIPUSH_TEST_TOKEN}
targets: { app: {} }
)");
  CHECK(message ==
        "/srv/project/multipush.yaml:7: registries.ghcr.io.password: environment variable MULTIPUSH_TEST_TOKEN is "
        "not set; export it or write ${MULTIPUSH_TEST_TOKEN:-default}");
  CHECK(contains(error_of(kMinimal + "log: { dir: \"${BROKEN\" }"), "is not closed"));
  CHECK(contains(error_of(kMinimal + "log: { dir: \"${1BAD}\" }"), "does not name a valid environment variable"));
}

TEST_CASE("config: unknown key suggestion") {
  std::string message = error_of(R"(
registries: { ghcr.io: {} }
targets:
  app:
    dockerfle: Dockerfile
)");
  CHECK(contains(message, "multipush.yaml:5: targets.app.dockerfle: unknown key \"dockerfle\"; did you mean "
                          "\"dockerfile\"?"));
  CHECK(contains(message, "Valid keys: context, dockerfile, image,"));

  CHECK(contains(error_of(kMinimal + "platform: [linux/amd64]"), "did you mean \"platforms\"?"));
  CHECK(contains(error_of(kMinimal + "registry: {}"), "did you mean \"registries\"?"));
  CHECK(contains(error_of("registries: { ghcr.io: { name-space: x } }\ntargets: { a: {} }"),
                 "did you mean \"namespace\"?"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { a: { build-args: {} } }"),
                 "did you mean \"args\"?"));
  CHECK(contains(error_of(kMinimal + "push: { whenever: auto }"), "Valid keys: when, stage, preflight"));
  CHECK_FALSE(contains(error_of(kMinimal + "zzzzzz: 1"), "did you mean"));
}

TEST_CASE("config: wrong types") {
  CHECK(contains(error_of("registries: [ghcr.io]\ntargets: { a: {} }"),
                 "multipush.yaml:1: registries: expected a map of keys and values, found a list"));
  CHECK(contains(error_of(kMinimal + "platforms: { linux: amd64 }"), "platforms: expected a list or a comma-separated"));
  CHECK(contains(error_of("registries: { ghcr.io: { max-connections: four } }\ntargets: { a: {} }"),
                 "registries.ghcr.io.max-connections: \"four\" is not an integer; write a whole number from 1"));
  CHECK(contains(error_of("registries: { ghcr.io: { max-connections: 2.5 } }\ntargets: { a: {} }"),
                 "is not an integer"));
  CHECK(contains(error_of("registries: { ghcr.io: { max-connections: 0 } }\ntargets: { a: {} }"),
                 "0 is out of range"));
  CHECK(contains(error_of("registries: { ghcr.io: { insecure: maybe } }\ntargets: { a: {} }"),
                 "\"maybe\" is not a boolean; write true or false"));
  CHECK(contains(error_of("registries: { ghcr.io: { namespace: [a] } }\ntargets: { a: {} }"),
                 "expected a string, found a list"));
  CHECK(contains(error_of(kMinimal + "log: { keep: 0 }"), "log.keep: 0 is out of range"));
  CHECK(contains(error_of("- a\n- b\n"), "expected a map of top-level keys"));
  CHECK(contains(error_of("targets: {a: {}\n"), "multipush.yaml:2: invalid YAML"));
  CHECK(contains(error_of("registries:\n  ghcr.io: { username: ${USER}, password: ${TOKEN} }\ntargets: { a: {} }"),
                 "multipush.yaml:2: invalid YAML: end of map flow not found; inside { } or [ ], quote values that "
                 "contain ${VAR}"));
  CHECK(contains(error_of(kMinimal + "tags: [a, [b]]"), "tags[1]: expected a string, found a list"));
}

TEST_CASE("config: bad enum values") {
  CHECK(contains(error_of(kMinimal + "build: { builder: docker }"),
                 "build.builder: unknown value \"docker\"; accepted values: auto, buildx, buildah"));
  CHECK(contains(error_of(kMinimal + "push: { when: sometimes }"), "accepted values: auto, always, never"));
  CHECK(contains(error_of(kMinimal + "push: { preflight: loud }"), "accepted values: warn, strict, off"));
  CHECK(contains(error_of("registries: { ghcr.io: { attestations: strip } }\ntargets: { a: {} }"),
                 "accepted values: keep, drop"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: email, url: https://x }]"),
                 "notify[0].type: unknown value \"email\"; accepted values: webhook, slack, dingtalk, feishu, wecom, "
                 "teams, github-issue"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: slack, url: https://x, on: never }]"),
                 "accepted values: failure, success, always"));
}

TEST_CASE("config: bad platform") {
  CHECK(contains(error_of(kMinimal + "platforms: [linux]"),
                 "platforms: invalid platform \"linux\"; write os/arch[/variant]"));
  CHECK(contains(error_of(kMinimal + "platforms: [linux/arm/v7/x]"), "invalid platform"));
  CHECK(contains(error_of(kMinimal + "platforms: [Linux/AMD64]"), "write \"linux/amd64\""));
  CHECK(contains(error_of(kMinimal + "platforms: [linux/amd64, linux/amd64]"), "listed twice"));
  CHECK(contains(error_of(kMinimal + "platforms: []"), "the list is empty"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { a: { platforms: [amd64] } }"),
                 "targets.a.platforms: invalid platform \"amd64\""));
}

TEST_CASE("config: bad size") {
  CHECK(contains(error_of("registries: { ghcr.io: { chunk-size: 4 MB/s } }\ntargets: { a: {} }"),
                 "registries.ghcr.io.chunk-size: invalid size \"4 MB/s\""));
  CHECK(contains(error_of("registries: { ghcr.io: { chunk-size: 0 } }\ntargets: { a: {} }"), "invalid size"));
}

TEST_CASE("config: parse size") {
  CHECK(parse_size("1048576") == 1048576u);
  CHECK(parse_size("4MiB") == 4u * 1024 * 1024);
  CHECK(parse_size("512KiB") == 512u * 1024);
  CHECK(parse_size("1GB") == 1000u * 1000 * 1000);
  CHECK(parse_size("2GiB") == 2ull << 30);
  CHECK(parse_size("10kb") == 10000u);
  CHECK(parse_size("7B") == 7u);
  CHECK(parse_size("3 MiB") == 3u << 20);
  CHECK_FALSE(parse_size("").has_value());
  CHECK_FALSE(parse_size("MiB").has_value());
  CHECK_FALSE(parse_size("1.5MiB").has_value());
  CHECK_FALSE(parse_size("4TiB").has_value());
  CHECK_FALSE(parse_size("-1").has_value());
  CHECK_FALSE(parse_size("99999999999999999999").has_value());
  CHECK_FALSE(parse_size("17179869184GiB").has_value());
}

TEST_CASE("config: registry hosts") {
  CHECK(contains(error_of("registries: { \"https://ghcr.io\": {} }\ntargets: { a: {} }"),
                 "a registry key is host[:port] without a scheme; write \"ghcr.io\""));
  CHECK(contains(error_of("registries: { \"http://localhost:5000/\": {} }\ntargets: { a: {} }"),
                 "write \"localhost:5000\" and set insecure: true"));
  CHECK(contains(error_of("registries: { ghcr.io/acme: {} }\ntargets: { a: {} }"),
                 "write \"ghcr.io\" and put \"acme\" under namespace"));
  CHECK(contains(error_of("registries: { \"bad_host\": {} }\ntargets: { a: {} }"), "is not a valid registry host"));
  CHECK(contains(error_of("registries:\n  docker.io: {}\n  index.docker.io: {}\ntargets: { a: {} }"),
                 "multipush.yaml:3: registries.index.docker.io: the same registry as line 2 (docker.io)"));
  CHECK(contains(error_of("registries: { ghcr.io: { namespace: /acme } }\ntargets: { a: {} }"), "invalid namespace"));
  CHECK(contains(error_of("registries: { ghcr.io: { username: bot } }\ntargets: { a: {} }"),
                 "only the username is set"));
  CHECK(contains(error_of("registries: { ghcr.io: { username: \"\", password: x } }\ntargets: { a: {} }"),
                 "the username is empty"));
}

TEST_CASE("config: upper case names lowered") {
  Config config = parse("registries: { ghcr.io: { namespace: OpenIMSDK } }\ntargets: { a: { image: OpenKF-Server } }");
  CHECK(config.registries.at(0).namespace_ == "openimsdk");
  CHECK(config.targets.at(0).image == "openkf-server");

  Config full = parse("targets: { a: { images: [ghcr.io/Acme/App] } }");
  CHECK(full.targets.at(0).images.at(0).reference.name() == "ghcr.io/acme/app");
}

TEST_CASE("config: targets and images") {
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { \"my app\": {} }"),
                 "invalid target name \"my app\""));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { a: { image: \"app:1.0\" } }"),
                 "carries a tag or digest"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { a: { image: ghcr.io/acme/app } }"),
                 "is a full reference"));
  CHECK(contains(error_of("targets: { a: { images: [\"ghcr.io/acme/app:1.0\"] } }"),
                 "targets.a.images[0]: \"ghcr.io/acme/app:1.0\" carries a tag or digest; write \"ghcr.io/acme/app\""));
  CHECK(contains(error_of("targets: { a: { images: [ghcr.io/a/b, ghcr.io/a/b] } }"), "listed twice"));
  CHECK(contains(error_of("targets: { a: {} }"),
                 "multipush.yaml:1: targets.a: no registries are configured and the target lists no images"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }"), "no targets are defined"));
  CHECK(contains(error_of(""), "no targets are defined"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets: { a: { labels: [novalue] } }"),
                 "\"novalue\" is not key=value"));
  CHECK(contains(error_of("registries: { ghcr.io: {} }\ntargets:\n  a: {}\n  a: {}"), "duplicate key"));

  Config images_only = parse("targets: { a: { images: [ghcr.io/acme/a] } }\npush: { stage: ghcr.io }");
  CHECK(images_only.registries.empty());
  CHECK(images_only.push.stage == "ghcr.io");
}

TEST_CASE("config: build entries") {
  // In a YAML flow list a comma separates entries, so the options of one
  // entry arrive as entries of their own.
  CHECK(contains(error_of(kMinimal + "build: { cache-to: [type=gha,mode=max] }"),
                 "build.cache-to[1]: \"mode=max\" names no type="));
  CHECK(contains(error_of(kMinimal + "build: { attest: [type=provenance,mode=min] }"),
                 "quote entries that contain commas"));
  CHECK(contains(error_of(kMinimal + "build: { attest: [sbom] }"), "build.attest[0]: \"sbom\" names no type="));
  Config config = parse(kMinimal + "build: { cache-from: [user/app:cache, \"type=registry,ref=x\"] }");
  CHECK(config.build.cache_from == std::vector<std::string>{"user/app:cache", "type=registry,ref=x"});
}

TEST_CASE("config: push and notify checks") {
  CHECK(contains(error_of(kMinimal + "push: { stage: quay.io }"),
                 "push.stage: \"quay.io\" is not a configured registry; write one of: ghcr.io"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: slack }]"), "a slack notification needs a url"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: slack, url: ftp://secret-host }]"),
                 "the url must start with https:// or http://"));
  CHECK_FALSE(contains(error_of(kMinimal + "notify: [{ type: slack, url: ftp://secret-host }]"), "secret-host"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: github-issue, url: https://x }]"), "github-issue takes no url"));
  CHECK(contains(error_of(kMinimal + "notify: [{ url: https://x }]"), "missing key \"type\""));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: webhook, url: https://x, targets: [web] }]"),
                 "\"web\" is not a target"));
  CHECK(contains(error_of(kMinimal + "notify: [{ type: webhook, url: https://x, registries: [quay.io] }]"),
                 "\"quay.io\" is not a registry of this file"));
  CHECK(contains(error_of(kMinimal + "notify: { type: webhook }"), "notify: expected a list, found a map"));
}

TEST_CASE("config: overrides without a file") {
  Overrides overrides;
  overrides.images = {"ghcr.io/acme/app", "acme/app", "ghcr.io/acme/app-mirror"};
  overrides.platforms = {"linux/amd64,linux/arm64", "linux/arm/v7"};
  Config config = config_from_overrides(overrides, "/work/repo");

  CHECK_FALSE(config.file.has_value());
  CHECK(config.base_dir == "/work/repo");
  CHECK(config.log.dir == "/work/repo/.multipush/runs");
  CHECK(config.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64", "linux/arm/v7"});
  REQUIRE(config.registries.size() == 2);
  CHECK(config.registries[0].host == "ghcr.io");
  CHECK(config.registries[1].host == "docker.io");

  REQUIRE(config.targets.size() == 1);
  const Target& target = config.targets[0];
  CHECK(target.name == "default");
  CHECK(target.context == "/work/repo");
  CHECK(target.dockerfile == "/work/repo/Dockerfile");
  CHECK(target.platforms == config.platforms);
  REQUIRE(target.images.size() == 3);
  CHECK(target.images[1].reference.str() == "docker.io/acme/app");
  CHECK(destinations(config, target).size() == 3);

  Overrides paths;
  paths.images = {"localhost:5000/app"};
  paths.context = "web";
  Config with_context = config_from_overrides(paths, "/work/repo");
  CHECK(with_context.targets[0].context == "/work/repo/web");
  CHECK(with_context.targets[0].dockerfile == "/work/repo/web/Dockerfile");
  CHECK(with_context.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64"});

  paths.dockerfile = "docker/Dockerfile.web";
  CHECK(config_from_overrides(paths, "/work/repo").targets[0].dockerfile == "/work/repo/docker/Dockerfile.web");
}

TEST_CASE("config: overrides errors") {
  Overrides none;
  try {
    config_from_overrides(none, "/work/repo");
    FAIL("expected a UsageError");
  } catch (const UsageError& error) {
    CHECK(contains(error.what(), "pass --image REF"));
    CHECK(contains(error.what(), "docker multipush init"));
  }

  Overrides tagged;
  tagged.images = {"ghcr.io/acme/app:1.0"};
  CHECK_THROWS_WITH_AS(config_from_overrides(tagged, "/"), doctest::Contains("carries a tag or digest"), UsageError);

  Overrides bad_platform;
  bad_platform.images = {"ghcr.io/acme/app"};
  bad_platform.platforms = {"linux"};
  CHECK_THROWS_WITH_AS(config_from_overrides(bad_platform, "/"), doctest::Contains("--platform: invalid platform"),
                       UsageError);

  // Upper case is lower-cased, as docker/metadata-action does for images.
  Overrides upper;
  upper.images = {"ghcr.io/Acme/App"};
  CHECK(config_from_overrides(upper, "/").targets.at(0).images.at(0).reference.name() == "ghcr.io/acme/app");
}

TEST_CASE("config: apply overrides") {
  Config config = parse(R"(
registries: { ghcr.io: {} }
targets:
  a: { platforms: [linux/amd64] }
  b: {}
)");
  Overrides overrides;
  overrides.platforms = {"linux/riscv64"};
  apply_overrides(config, overrides);
  CHECK(config.platforms == std::vector<std::string>{"linux/riscv64"});
  CHECK(config.targets[0].platforms == std::vector<std::string>{"linux/riscv64"});
  CHECK(config.targets[1].platforms == std::vector<std::string>{"linux/riscv64"});

  Overrides image;
  image.images = {"ghcr.io/acme/app"};
  CHECK_THROWS_WITH_AS(apply_overrides(config, image), doctest::Contains("only when there is no config file"),
                       UsageError);
}

TEST_CASE("config: platform validity") {
  CHECK(is_valid_platform("linux/amd64"));
  CHECK(is_valid_platform("linux/arm/v7"));
  CHECK(is_valid_platform("windows/amd64"));
  CHECK(is_valid_platform("linux/386"));
  CHECK_FALSE(is_valid_platform("linux"));
  CHECK_FALSE(is_valid_platform("linux/"));
  CHECK_FALSE(is_valid_platform("/amd64"));
  CHECK_FALSE(is_valid_platform("linux/arm/v7/extra"));
  CHECK_FALSE(is_valid_platform("Linux/amd64"));
  CHECK_FALSE(is_valid_platform("linux/amd 64"));
}

TEST_CASE("config: location text") {
  Location location{fs::current_path() / "sub" / "multipush.yaml", 12};
  CHECK(location.str() == "sub/multipush.yaml:12");
  CHECK(Location{"/elsewhere/x.yaml", 0}.str().ends_with("x.yaml"));
  CHECK(Location{"/elsewhere/x.yaml", 3}.str() == "/elsewhere/x.yaml:3");
}
