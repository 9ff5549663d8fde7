#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/app.hpp"

using multipush::cli::split_docker_globals;
using Args = std::vector<std::string>;

TEST_CASE("docker globals: config before plugin name") {
  auto [globals, rest] = split_docker_globals({"--config", "/tmp/cfg", "multipush", "run"});
  CHECK(globals.args == Args{"--config", "/tmp/cfg"});
  REQUIRE(globals.config_dir.has_value());
  CHECK(*globals.config_dir == "/tmp/cfg");
  CHECK_FALSE(globals.debug);
  CHECK(rest == Args{"run"});
}

TEST_CASE("docker globals: config with inline value") {
  auto [globals, rest] = split_docker_globals({"--config=/tmp/cfg", "multipush"});
  CHECK(globals.args == Args{"--config=/tmp/cfg"});
  REQUIRE(globals.config_dir.has_value());
  CHECK(*globals.config_dir == "/tmp/cfg");
  CHECK(rest.empty());
}

TEST_CASE("docker globals: short options and booleans") {
  auto [globals, rest] =
      split_docker_globals({"-c", "ctx", "-H", "unix:///x", "--tls", "-D", "multipush", "build"});
  CHECK(globals.args == Args{"-c", "ctx", "-H", "unix:///x", "--tls", "-D"});
  CHECK(globals.debug);
  CHECK_FALSE(globals.config_dir.has_value());
  CHECK(rest == Args{"build"});
}

TEST_CASE("docker globals: long debug flag") {
  auto [globals, rest] = split_docker_globals({"--debug", "multipush", "meta"});
  CHECK(globals.args == Args{"--debug"});
  CHECK(globals.debug);
  CHECK(rest == Args{"meta"});
}

TEST_CASE("docker globals: log level is not debug") {
  auto [globals, rest] = split_docker_globals({"--log-level", "debug", "multipush"});
  CHECK(globals.args == Args{"--log-level", "debug"});
  CHECK_FALSE(globals.debug);
  CHECK_FALSE(globals.config_dir.has_value());
  CHECK(rest.empty());
}

TEST_CASE("docker globals: TLS files with values") {
  auto [globals, rest] = split_docker_globals(
      {"--tlsverify", "--tlscacert", "/ca.pem", "--tlscert=/cert.pem", "--tlskey", "/key.pem", "multipush", "run"});
  CHECK(globals.args == Args{"--tlsverify", "--tlscacert", "/ca.pem", "--tlscert=/cert.pem", "--tlskey", "/key.pem"});
  CHECK(rest == Args{"run"});
}

TEST_CASE("docker globals: plugin options stay after plugin name") {
  // `--context` and `--debug` after `multipush` are the plugin's own options.
  auto [globals, rest] = split_docker_globals({"--context", "ci", "multipush", "--context", "./app", "--debug"});
  CHECK(globals.args == Args{"--context", "ci"});
  CHECK_FALSE(globals.debug);
  CHECK(rest == Args{"--context", "./app", "--debug"});
}

TEST_CASE("docker globals: standalone without globals") {
  auto [globals, rest] = split_docker_globals({"run", "server", "web"});
  CHECK(globals.args.empty());
  CHECK_FALSE(globals.config_dir.has_value());
  CHECK_FALSE(globals.debug);
  CHECK(rest == Args{"run", "server", "web"});
}

TEST_CASE("docker globals: standalone empty") {
  auto [globals, rest] = split_docker_globals({});
  CHECK(globals.args.empty());
  CHECK(rest.empty());
}

TEST_CASE("docker globals: standalone with leading globals") {
  auto [globals, rest] = split_docker_globals({"--config", "/tmp/cfg", "-D", "build", "--print"});
  CHECK(globals.args == Args{"--config", "/tmp/cfg", "-D"});
  REQUIRE(globals.config_dir.has_value());
  CHECK(*globals.config_dir == "/tmp/cfg");
  CHECK(globals.debug);
  CHECK(rest == Args{"build", "--print"});
}

TEST_CASE("docker globals: standalone stops at first other token") {
  auto [globals, rest] = split_docker_globals({"run", "--config", "/tmp/cfg"});
  CHECK(globals.args.empty());
  CHECK(rest == Args{"run", "--config", "/tmp/cfg"});
}

TEST_CASE("docker globals: target named multipush") {
  auto [globals, rest] = split_docker_globals({"multipush", "run", "multipush"});
  CHECK(globals.args.empty());
  CHECK(rest == Args{"run", "multipush"});
}

TEST_CASE("docker globals: standalone target named multipush") {
  // Without the docker CLI the first word is the command, so a target named
  // `multipush` later in the list is not taken for the plugin name.
  auto [globals, rest] = split_docker_globals({"run", "multipush"});
  CHECK(globals.args.empty());
  CHECK(rest == Args{"run", "multipush"});
}

TEST_CASE("docker globals: globals and target named multipush") {
  auto [globals, rest] = split_docker_globals({"--config", "/tmp/cfg", "multipush", "build", "multipush"});
  CHECK(globals.args == Args{"--config", "/tmp/cfg"});
  CHECK(rest == Args{"build", "multipush"});
}

// Standalone, `--context` is the plugin's build-context option, not docker's.
TEST_CASE("docker globals: standalone context is plugin option") {
  auto [globals, rest] = split_docker_globals({"--context", "./app", "--image", "127.0.0.1:5000/x/y", "build"});
  CHECK(globals.args.empty());
  CHECK(rest == Args{"--context", "./app", "--image", "127.0.0.1:5000/x/y", "build"});
}
