#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "multipush/auth/credentials.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/util/error.hpp"

using multipush::UsageError;
using multipush::auth::docker_config_dir;
using multipush::auth::from_docker_config;
namespace fs = std::filesystem;

namespace {

// A temporary docker config directory with tests/support on PATH, so the
// docker-credential-test helper can be found.
struct ConfigDir {
  fs::path dir;
  std::string old_path;

  ConfigDir() {
    std::string pattern = (fs::temp_directory_path() / "multipush-auth-XXXXXX").string();
    dir = ::mkdtemp(pattern.data());
    const char* path = std::getenv("PATH");
    old_path = path ? path : "";
    std::string support = std::string(MULTIPUSH_SOURCE_DIR) + "/tests/support";
    ::setenv("PATH", (support + ":" + old_path).c_str(), 1);
    ::unsetenv("DOCKER_AUTH_CONFIG");
  }
  ~ConfigDir() {
    ::setenv("PATH", old_path.c_str(), 1);
    ::unsetenv("DOCKER_AUTH_CONFIG");
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& json) const { std::ofstream(dir / "config.json") << json; }
};

}  // namespace

TEST_CASE("docker config dir order") {
  ::setenv("DOCKER_CONFIG", "/tmp/from-env", 1);
  CHECK(docker_config_dir(fs::path("/tmp/from-flag")) == "/tmp/from-flag");
  CHECK(docker_config_dir(std::nullopt) == "/tmp/from-env");
  ::unsetenv("DOCKER_CONFIG");
  ::setenv("HOME", "/tmp/home", 1);
  CHECK(docker_config_dir(std::nullopt) == "/tmp/home/.docker");
}

TEST_CASE("docker config missing file is anonymous") {
  ConfigDir config;
  CHECK_FALSE(from_docker_config("ghcr.io", config.dir));
}

TEST_CASE("docker config malformed file") {
  ConfigDir config;
  config.write("{not json");
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
}

TEST_CASE("docker config auths entry") {
  ConfigDir config;
  // "alice:pa:ss" splits at the first colon.
  config.write(R"({"auths":{"ghcr.io":{"auth":"YWxpY2U6cGE6c3M="},"localhost:5000":{"auth":"Ym9iOnNlY3JldDE="}}})");
  auto ghcr = from_docker_config("ghcr.io", config.dir);
  REQUIRE(ghcr);
  CHECK(ghcr->username == "alice");
  CHECK(ghcr->password == "pa:ss");
  CHECK(ghcr->source.find("auths[ghcr.io]") != std::string::npos);
  auto local = from_docker_config("localhost:5000", config.dir);
  REQUIRE(local);
  CHECK(local->username == "bob");
  CHECK(local->password == "secret1");
  CHECK_FALSE(from_docker_config("quay.io", config.dir));
  // Both the decoded password and the base64 string are secrets.
  CHECK(multipush::output::redact("x secret1 Ym9iOnNlY3JldDE= y") == "x **** **** y");
}

TEST_CASE("docker config legacy and hub keys") {
  ConfigDir config;
  config.write(R"({"auths":{
    "https://reg.example.com/v1/":{"auth":"dTE6cDFwMXAx"},
    "https://index.docker.io/v1/":{"auth":"aHViOmh1YnBhc3M="},
    "old.example":{"username":"u2","password":"p2p2p2"}}})");
  auto legacy = from_docker_config("reg.example.com", config.dir);
  REQUIRE(legacy);
  CHECK(legacy->username == "u1");
  CHECK(legacy->password == "p1p1p1");
  for (const char* host : {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
    CAPTURE(host);
    auto hub = from_docker_config(host, config.dir);
    REQUIRE(hub);
    CHECK(hub->username == "hub");
    CHECK(hub->password == "hubpass");
  }
  auto separate = from_docker_config("old.example", config.dir);
  REQUIRE(separate);
  CHECK(separate->username == "u2");
  CHECK(separate->password == "p2p2p2");
}

TEST_CASE("docker config tokens in auths") {
  ConfigDir config;
  config.write(R"({"auths":{"a.example":{"identitytoken":"refresh-1234"},"b.example":{"registrytoken":"bearer-5678"}}})");
  auto identity = from_docker_config("a.example", config.dir);
  REQUIRE(identity);
  CHECK(identity->identity_token == "refresh-1234");
  auto registry = from_docker_config("b.example", config.dir);
  REQUIRE(registry);
  CHECK(registry->registry_token == "bearer-5678");
}

TEST_CASE("docker config placeholder entries") {
  ConfigDir config;
  config.write(R"({"auths":{"ghcr.io":{}}})");
  CHECK_FALSE(from_docker_config("ghcr.io", config.dir));
  // With a store, the placeholder is not consulted at all: the helper answers.
  config.write(R"({"auths":{"found.example":{}},"credsStore":"test"})");
  auto found = from_docker_config("found.example", config.dir);
  REQUIRE(found);
  CHECK(found->username == "alice");
}

TEST_CASE("docker config invalid auth") {
  ConfigDir config;
  config.write(R"({"auths":{"ghcr.io":{"auth":"bm9jb2xvbg=="}}})");
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
}

TEST_CASE("credential helper answers") {
  ConfigDir config;
  config.write(R"({"credsStore":"test","auths":{"notfound.example":{"auth":"dTpw"}}})");
  auto found = from_docker_config("found.example", config.dir);
  REQUIRE(found);
  CHECK(found->username == "alice");
  CHECK(found->password == "helper-secret-1");
  CHECK(found->source.find("docker-credential-test") != std::string::npos);

  auto token = from_docker_config("token.example", config.dir);
  REQUIRE(token);
  CHECK(token->username.empty());
  CHECK(token->password.empty());
  CHECK(token->identity_token == "identity-token-1");

  CHECK_FALSE(from_docker_config("empty.example", config.dir));
  // "not found" from the store means anonymous, even with an auths entry.
  CHECK_FALSE(from_docker_config("notfound.example", config.dir));

  auto hub = from_docker_config("docker.io", config.dir);
  REQUIRE(hub);
  CHECK(hub->username == "alice");
}

TEST_CASE("credential helper failure") {
  ConfigDir config;
  config.write(R"({"credsStore":"test"})");
  try {
    from_docker_config("broken.example", config.dir);
    FAIL("expected UsageError");
  } catch (const UsageError& error) {
    std::string message = error.what();
    CHECK(message.find("docker-credential-test") != std::string::npos);
    CHECK(message.find("broken.example") != std::string::npos);
    CHECK(message.find("gpg decryption failed") != std::string::npos);
  }
}

TEST_CASE("credential helper missing") {
  ConfigDir config;
  config.write(R"({"credsStore":"does-not-exist"})");
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
}

TEST_CASE("credHelpers before credsStore and auths") {
  ConfigDir config;
  config.write(R"({"credHelpers":{"found.example":"test","other.example":"test"},
    "credsStore":"does-not-exist",
    "auths":{"found.example":{"auth":"eDp5eXl5"}}})");
  auto found = from_docker_config("found.example", config.dir);
  REQUIRE(found);
  CHECK(found->password == "helper-secret-1");
  CHECK(found->source.find("credHelpers[found.example]") != std::string::npos);
  CHECK_FALSE(from_docker_config("other.example", config.dir));
}

TEST_CASE("DOCKER_AUTH_CONFIG first") {
  ConfigDir config;
  config.write(R"({"auths":{"ghcr.io":{"auth":"eDp5eXl5"}}})");
  ::setenv("DOCKER_AUTH_CONFIG", R"({"auths":{"ghcr.io":{"auth":"dXNlcjpnaHBfeHh4"}}})", 1);
  auto ghcr = from_docker_config("ghcr.io", config.dir);
  REQUIRE(ghcr);
  CHECK(ghcr->username == "user");
  CHECK(ghcr->password == "ghp_xxx");
  // Hosts it does not name fall back to the config file.
  config.write(R"({"auths":{"quay.io":{"auth":"eDp5eXl5"}}})");
  auto quay = from_docker_config("quay.io", config.dir);
  REQUIRE(quay);
  CHECK(quay->password == "yyyy");
}

TEST_CASE("DOCKER_AUTH_CONFIG rejects other fields") {
  ConfigDir config;
  ::setenv("DOCKER_AUTH_CONFIG", R"({"auths":{"ghcr.io":{"auth":"dTpw","identitytoken":"x"}}})", 1);
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
  ::setenv("DOCKER_AUTH_CONFIG", R"({"credsStore":"x"})", 1);
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
  ::setenv("DOCKER_AUTH_CONFIG", "not json", 1);
  CHECK_THROWS_AS(from_docker_config("ghcr.io", config.dir), UsageError);
}
