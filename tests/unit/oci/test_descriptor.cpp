#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "multipush/oci/descriptor.hpp"
#include "multipush/oci/manifest.hpp"

using namespace multipush::oci;

TEST_CASE("platform parse and print") {
  auto amd64 = Platform::parse("linux/amd64");
  REQUIRE(amd64.has_value());
  CHECK(amd64->os == "linux");
  CHECK(amd64->architecture == "amd64");
  CHECK(amd64->variant.empty());
  CHECK(amd64->str() == "linux/amd64");

  auto arm = Platform::parse("linux/arm/v7");
  REQUIRE(arm.has_value());
  CHECK(arm->variant == "v7");
  CHECK(arm->str() == "linux/arm/v7");

  CHECK_FALSE(Platform::parse("linux").has_value());
  CHECK_FALSE(Platform::parse("linux/").has_value());
  CHECK_FALSE(Platform::parse("linux/arm/v7/x").has_value());
  CHECK(Platform::parse("amd64").error().find("\"amd64\"") != std::string::npos);
}

TEST_CASE("platform equality normalises variants") {
  CHECK(*Platform::parse("linux/arm64") == *Platform::parse("linux/arm64/v8"));
  CHECK(Platform::parse("linux/arm64/v8")->str() == "linux/arm64");
  CHECK(*Platform::parse("linux/amd64") == *Platform::parse("linux/amd64/v1"));
  CHECK(*Platform::parse("linux/arm") == *Platform::parse("linux/arm/v7"));
  CHECK_FALSE(*Platform::parse("linux/arm/v6") == *Platform::parse("linux/arm/v7"));
  CHECK_FALSE(*Platform::parse("linux/amd64") == *Platform::parse("linux/arm64"));
  CHECK_FALSE(*Platform::parse("linux/arm64/v8.1") == *Platform::parse("linux/arm64"));
}

TEST_CASE("descriptor parse with platform and annotations") {
  const auto json = nlohmann::json::parse(R"({
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "size": 1234,
    "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
    "annotations": {"org.opencontainers.image.ref.name": "1.2.3"}
  })");
  auto descriptor = parse_descriptor(json);
  REQUIRE(descriptor.has_value());
  CHECK(descriptor->media_type == media_type::kOciManifest);
  CHECK(descriptor->size == 1234);
  REQUIRE(descriptor->platform.has_value());
  CHECK(descriptor->platform->str() == "linux/arm64");
  CHECK(descriptor->annotation(annotation::kRefName) == "1.2.3");
  CHECK(descriptor->annotation("missing").empty());
  CHECK_FALSE(descriptor->is_attestation());
}

TEST_CASE("descriptor parse rejects invalid fields") {
  CHECK_FALSE(parse_descriptor(nlohmann::json::parse(R"({"digest":"sha256:00","size":1})")).has_value());
  CHECK_FALSE(parse_descriptor(nlohmann::json::parse(R"({"mediaType":"x","size":1})")).has_value());
  auto negative = parse_descriptor(nlohmann::json::parse(R"({"mediaType":"x","digest":"sha256:00","size":-1})"));
  REQUIRE_FALSE(negative.has_value());
  CHECK(negative.error().find("size") != std::string::npos);
  CHECK_FALSE(parse_descriptor(nlohmann::json::parse(R"({"mediaType":"x","digest":"sha256:00","size":"1"})")).has_value());
  CHECK_FALSE(parse_descriptor(nlohmann::json::parse(R"([1])")).has_value());
}

TEST_CASE("descriptor attestation detection") {
  auto by_platform = parse_descriptor(nlohmann::json::parse(
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,
          "platform":{"architecture":"unknown","os":"unknown"}})"));
  REQUIRE(by_platform.has_value());
  CHECK(by_platform->is_attestation());

  auto by_annotation = parse_descriptor(nlohmann::json::parse(
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,
          "annotations":{"vnd.docker.reference.type":"attestation-manifest"}})"));
  REQUIRE(by_annotation.has_value());
  CHECK(by_annotation->is_attestation());
}

TEST_CASE("manifest and index parsing") {
  const std::string manifest_bytes = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:01","size":10},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:02","size":20}]})";
  auto manifest = parse_manifest(manifest_bytes);
  REQUIRE(manifest.has_value());
  CHECK(manifest->config.digest == "sha256:01");
  REQUIRE(manifest->layers.size() == 1);
  CHECK(manifest->layers[0].size == 20);
  CHECK(detect_media_type(manifest_bytes) == media_type::kOciManifest);

  const std::string index_bytes = R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:03","size":5}]})";
  auto index = parse_index(index_bytes);
  REQUIRE(index.has_value());
  CHECK(index->manifests.size() == 1);
  CHECK(detect_media_type(index_bytes) == media_type::kOciIndex);

  CHECK_FALSE(parse_index(manifest_bytes).has_value());
  CHECK_FALSE(parse_manifest(index_bytes).has_value());
  CHECK_FALSE(parse_manifest("not json").has_value());
  auto schema1 = parse_manifest(R"({"schemaVersion":1,"name":"x"})");
  REQUIRE_FALSE(schema1.has_value());
  CHECK(schema1.error().find("schemaVersion") != std::string::npos);
}

TEST_CASE("distribution sources for one host") {
  Descriptor descriptor;
  descriptor.annotations["containerd.io/distribution.source.ghcr.io"] = "acme/base, acme/app,acme/base";
  descriptor.annotations["containerd.io/distribution.source.quay.io"] = "other/repo";
  descriptor.annotations["org.opencontainers.image.title"] = "layer";

  CHECK(distribution_sources(descriptor, "ghcr.io") == std::vector<std::string>{"acme/base", "acme/app"});
  CHECK(distribution_sources(descriptor, "GHCR.io") == std::vector<std::string>{"acme/base", "acme/app"});
  CHECK(distribution_sources(descriptor, "quay.io") == std::vector<std::string>{"other/repo"});
  CHECK(distribution_sources(descriptor, "docker.io").empty());
  CHECK(distribution_sources(descriptor, "ghcr.io:443").empty());
}

TEST_CASE("distribution sources with a port") {
  Descriptor descriptor;
  descriptor.annotations["containerd.io/distribution.source.127.0.0.1:5000"] = "mirror/source";
  CHECK(distribution_sources(descriptor, "127.0.0.1:5000") == std::vector<std::string>{"mirror/source"});
  CHECK(distribution_sources(descriptor, "127.0.0.1:5001").empty());
  CHECK(distribution_sources(descriptor, "127.0.0.1").empty());
}

TEST_CASE("distribution sources on docker hub") {
  Descriptor descriptor;
  descriptor.annotations["containerd.io/distribution.source.registry-1.docker.io"] = "library/alpine";
  descriptor.annotations["containerd.io/distribution.source.ghcr.io"] = "acme/base";

  // Hub's three names are one registry; no other host's hint reaches it.
  CHECK(distribution_sources(descriptor, "docker.io") == std::vector<std::string>{"library/alpine"});
  CHECK(distribution_sources(descriptor, "index.docker.io") == std::vector<std::string>{"library/alpine"});
  CHECK(distribution_sources(descriptor, "registry-1.docker.io") == std::vector<std::string>{"library/alpine"});
  CHECK(distribution_sources(descriptor, "ghcr.io") == std::vector<std::string>{"acme/base"});
}

TEST_CASE("distribution sources skip invalid names") {
  Descriptor descriptor;
  descriptor.annotations["containerd.io/distribution.source.ghcr.io"] =
      "Acme/Upper,acme/app?x=1,,acme//double,-acme/dash,acme/ok__name,acme/a--b,acme/a.b_c,../up,acme/end-";
  CHECK(distribution_sources(descriptor, "ghcr.io") ==
        std::vector<std::string>{"acme/ok__name", "acme/a--b", "acme/a.b_c"});
}
