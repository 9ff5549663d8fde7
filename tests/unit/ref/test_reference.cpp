#include <doctest/doctest.h>

#include <string>

#include "multipush/ref/reference.hpp"

using multipush::ref::parse;
using multipush::ref::Reference;

namespace {

Reference parse_ok(const std::string& text, bool lower_case = false) {
  auto result = parse(text, lower_case);
  INFO("reference: ", text);
  REQUIRE_MESSAGE(result.has_value(), (result ? std::string() : result.error()));
  return *result;
}

std::string parse_error(const std::string& text, bool lower_case = false) {
  auto result = parse(text, lower_case);
  INFO("reference: ", text);
  REQUIRE_FALSE(result.has_value());
  return result.error();
}

}  // namespace

TEST_CASE("ref: Docker Hub defaults") {
  auto alpine = parse_ok("alpine");
  CHECK(alpine.registry == "docker.io");
  CHECK(alpine.repository == "library/alpine");
  CHECK_FALSE(alpine.tag.has_value());
  CHECK_FALSE(alpine.digest.has_value());
  CHECK(alpine.str() == "docker.io/library/alpine");

  CHECK(parse_ok("docker.io/alpine").repository == "library/alpine");
  CHECK(parse_ok("docker.io/library/alpine").repository == "library/alpine");
  CHECK(parse_ok("openim/openkf-server").str() == "docker.io/openim/openkf-server");
  CHECK(parse_ok("index.docker.io/openim/app").registry == "docker.io");
  CHECK(parse_ok("index.docker.io/alpine").repository == "library/alpine");
  CHECK(parse_ok("registry-1.docker.io/acme/app").registry == "docker.io");
}

TEST_CASE("ref: library only on Docker Hub") {
  auto ghcr = parse_ok("ghcr.io/alpine");
  CHECK(ghcr.registry == "ghcr.io");
  CHECK(ghcr.repository == "alpine");
  CHECK(parse_ok("localhost:5000/app").repository == "app");
}

TEST_CASE("ref: hosts and ports") {
  auto local = parse_ok("localhost:5000/acme/app:1.0");
  CHECK(local.registry == "localhost:5000");
  CHECK(local.repository == "acme/app");
  CHECK(local.tag == "1.0");

  CHECK(parse_ok("localhost/app").registry == "localhost");
  CHECK(parse_ok("127.0.0.1:5000/app").registry == "127.0.0.1:5000");
  CHECK(parse_ok("[::1]:5000/app").registry == "[::1]:5000");
  CHECK(parse_ok("Registry.Example.COM/app").registry == "registry.example.com");
  CHECK(parse_ok("registry.cn-hangzhou.aliyuncs.com/openimsdk/openkf-server").repository ==
        "openimsdk/openkf-server");

  // Without "/" the colon starts a tag, as the docker CLI reads it.
  auto bare = parse_ok("localhost:5000");
  CHECK(bare.registry == "docker.io");
  CHECK(bare.repository == "library/localhost");
  CHECK(bare.tag == "5000");
}

TEST_CASE("ref: tags and digests") {
  const std::string digest = "sha256:" + std::string(64, 'a');

  auto tagged = parse_ok("ghcr.io/acme/app:V1.2.3_rc-1");
  CHECK(tagged.tag == "V1.2.3_rc-1");
  CHECK_FALSE(tagged.digest.has_value());

  auto pinned = parse_ok("ghcr.io/acme/app@" + digest);
  CHECK_FALSE(pinned.tag.has_value());
  CHECK(pinned.digest == digest);
  CHECK(pinned.str() == "ghcr.io/acme/app@" + digest);

  auto both = parse_ok("acme/app:1.0@" + digest);
  CHECK(both.tag == "1.0");
  CHECK(both.digest == digest);
  CHECK(both.str() == "docker.io/acme/app:1.0@" + digest);
  CHECK(both.name() == "docker.io/acme/app");

  CHECK(parse_ok("localhost:5000/app:5000").tag == "5000");
}

TEST_CASE("ref: upper case") {
  CHECK(parse_error("ghcr.io/Acme/App") ==
        "invalid reference \"ghcr.io/Acme/App\": repository must be lower case; use \"ghcr.io/acme/app\"");
  CHECK(parse_error("ghcr.io/Acme/App:V1").find("use \"ghcr.io/acme/app:V1\"") != std::string::npos);
  CHECK(parse_error("App").find("must be lower case") != std::string::npos);

  // An upper-case first component is read as a host by the docker CLI; a
  // single label with no dot or port is rejected with both fixes.
  auto hub_namespace = parse_error("Acme/app");
  CHECK(hub_namespace.find("\"Acme\" would be read as a registry host") != std::string::npos);
  CHECK(hub_namespace.find("use \"acme/app\"") != std::string::npos);

  auto lowered = parse_ok("ghcr.io/Acme/App:MixedCase", true);
  CHECK(lowered.repository == "acme/app");
  CHECK(lowered.tag == "MixedCase");
  CHECK(parse_ok("Acme/App", true).str() == "docker.io/acme/app");
}

TEST_CASE("ref: invalid forms") {
  CHECK(parse_error("").find("empty") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/app:").find("tag \"\" is not valid") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/app@").find("digest") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/app@sha256:abc").find("digest \"sha256:abc\"") != std::string::npos);
  CHECK(parse_error("ghcr.io/").find("repository path") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme//app").find("is not valid") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/app_").find("is not valid") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/a___b").find("is not valid") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/a..b").find("is not valid") != std::string::npos);
  CHECK(parse_error("acme app").find("white space") != std::string::npos);
  CHECK(parse_error("ghcr.io/acme/app:-bad").find("tag \"-bad\"") != std::string::npos);
  CHECK(parse_error("reg_istry.io/app").find("registry host \"reg_istry.io\"") != std::string::npos);
  CHECK(parse_error("localhost:0/app").find("registry host") != std::string::npos);
  CHECK(parse_error("localhost:99999/app").find("registry host") != std::string::npos);
  CHECK(parse_error(std::string(64, 'a')).find("image ID") != std::string::npos);
  CHECK(parse_error("ghcr.io/" + std::string(250, 'a')).find("255") != std::string::npos);

  CHECK(parse_ok("ghcr.io/a__b/c-----d/e.f").repository == "a__b/c-----d/e.f");
}

TEST_CASE("ref: tag validity") {
  using multipush::ref::is_valid_tag;
  CHECK(is_valid_tag("latest"));
  CHECK(is_valid_tag("_underscore"));
  CHECK(is_valid_tag("V1.0-rc.1"));
  CHECK(is_valid_tag(std::string(128, 'a')));
  CHECK_FALSE(is_valid_tag(std::string(129, 'a')));
  CHECK_FALSE(is_valid_tag(""));
  CHECK_FALSE(is_valid_tag(".hidden"));
  CHECK_FALSE(is_valid_tag("-dash"));
  CHECK_FALSE(is_valid_tag("feature/x"));
  CHECK_FALSE(is_valid_tag("a+b"));
}

TEST_CASE("ref: digest validity") {
  using multipush::ref::is_valid_digest;
  CHECK(is_valid_digest("sha256:" + std::string(64, 'f')));
  CHECK(is_valid_digest("sha512:" + std::string(128, '0')));
  CHECK(is_valid_digest("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"));
  CHECK_FALSE(is_valid_digest("sha256:" + std::string(64, 'F')));
  CHECK_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
  CHECK_FALSE(is_valid_digest("sha512:" + std::string(64, 'a')));
  CHECK_FALSE(is_valid_digest("SHA256:" + std::string(64, 'a')));
  CHECK_FALSE(is_valid_digest(":abc"));
  CHECK_FALSE(is_valid_digest("sha256"));
  CHECK_FALSE(is_valid_digest("sha256+:abc"));
  CHECK_FALSE(is_valid_digest("md5:ab/cd"));
}

TEST_CASE("ref: loopback") {
  using multipush::ref::is_loopback_host;
  CHECK(parse_ok("localhost:5000/app").is_loopback());
  CHECK(parse_ok("127.0.0.1/app").is_loopback());
  CHECK(parse_ok("127.1.2.3:443/app").is_loopback());
  CHECK(parse_ok("[::1]:5000/app").is_loopback());
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("LOCALHOST"));
  CHECK_FALSE(parse_ok("ghcr.io/acme/app").is_loopback());
  CHECK_FALSE(parse_ok("alpine").is_loopback());
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("127.0.0"));
  CHECK_FALSE(is_loopback_host("127.0.0.256"));
  CHECK_FALSE(is_loopback_host("localhost.example.com"));
  CHECK_FALSE(is_loopback_host("[::2]"));
}

TEST_CASE("ref: api host and credential key") {
  auto hub = parse_ok("alpine");
  CHECK(hub.api_host() == "registry-1.docker.io");
  CHECK(hub.credential_key() == "https://index.docker.io/v1/");

  auto ghcr = parse_ok("ghcr.io/acme/app");
  CHECK(ghcr.api_host() == "ghcr.io");
  CHECK(ghcr.credential_key() == "ghcr.io");
  CHECK(parse_ok("localhost:5000/app").credential_key() == "localhost:5000");

  using multipush::ref::credential_key_for_host;
  CHECK(credential_key_for_host("docker.io") == "https://index.docker.io/v1/");
  CHECK(credential_key_for_host("index.docker.io") == "https://index.docker.io/v1/");
  CHECK(credential_key_for_host("GHCR.io") == "ghcr.io");
}

TEST_CASE("ref: host normalisation") {
  using multipush::ref::is_valid_registry_host;
  using multipush::ref::normalize_registry_host;
  CHECK(normalize_registry_host("Index.Docker.IO") == "docker.io");
  CHECK(normalize_registry_host("registry-1.docker.io") == "docker.io");
  CHECK(normalize_registry_host("GHCR.IO") == "ghcr.io");
  CHECK(normalize_registry_host("localhost:5000") == "localhost:5000");

  CHECK(is_valid_registry_host("ghcr.io"));
  CHECK(is_valid_registry_host("localhost:5000"));
  CHECK(is_valid_registry_host("[::1]:5000"));
  CHECK(is_valid_registry_host("10.0.0.1:443"));
  CHECK_FALSE(is_valid_registry_host("https://ghcr.io"));
  CHECK_FALSE(is_valid_registry_host("ghcr.io/acme"));
  CHECK_FALSE(is_valid_registry_host("-bad.io"));
  CHECK_FALSE(is_valid_registry_host("ghcr.io:"));
  CHECK_FALSE(is_valid_registry_host("[::1"));
  CHECK_FALSE(is_valid_registry_host(""));
}

TEST_CASE("ref: repository validity") {
  using multipush::ref::is_valid_repository;
  CHECK(is_valid_repository("library/alpine"));
  CHECK(is_valid_repository("a/b/c"));
  CHECK(is_valid_repository("a.b_c__d-e--f"));
  CHECK_FALSE(is_valid_repository(""));
  CHECK_FALSE(is_valid_repository("/a"));
  CHECK_FALSE(is_valid_repository("a/"));
  CHECK_FALSE(is_valid_repository("Acme"));
  CHECK_FALSE(is_valid_repository("a:b"));
}
