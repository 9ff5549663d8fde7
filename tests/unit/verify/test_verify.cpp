#include <doctest/doctest.h>

#include <fstream>
#include <memory>

#include "multipush/oci/layout.hpp"
#include "multipush/verify/verify.hpp"
#include "oci/layout_builder.hpp"
#include "registry/registry_fixture.hpp"

using namespace multipush;
using multipush::test::RegistryServer;
using multipush::testing::LayoutBuilder;
using multipush::testing::TempDir;

namespace {

// Pushes `image` with the registry client alone, so this test does not
// depend on the push engine: blobs, child manifests, the root, then tags.
void push_directly(registry::RegistryClient& client, const oci::Image& image, const std::string& repository,
                   const std::vector<std::string>& tags) {
  for (const auto& blob : image.blobs()) {
    auto session = client.start_upload(repository);
    REQUIRE_MESSAGE(session.has_value(), session.error().str());
    const auto path = image.blob_path(blob.digest);
    auto uploaded = client.upload_blob(*session, blob.digest, blob.size, [path]() -> http::BodyReader {
      auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
      return [file](char* buffer, size_t size) -> size_t {
        file->read(buffer, static_cast<std::streamsize>(size));
        return static_cast<size_t>(file->gcount());
      };
    });
    REQUIRE_MESSAGE(uploaded.has_value(), uploaded.error().str());
  }
  std::vector<const oci::StoredManifest*> manifests;
  for (const auto& child : image.platforms) {
    manifests.push_back(&child.stored);
  }
  for (const auto& child : image.attestations) {
    manifests.push_back(&child.stored);
  }
  manifests.push_back(&image.root);
  for (const auto* stored : manifests) {
    auto pushed = client.put_manifest(repository, stored->descriptor.digest, stored->descriptor.media_type,
                                      stored->bytes);
    REQUIRE_MESSAGE(pushed.has_value(), pushed.error().str());
  }
  for (const auto& tag : tags) {
    auto pushed = client.put_manifest(repository, tag, image.root.descriptor.media_type, image.root.bytes);
    REQUIRE_MESSAGE(pushed.has_value(), pushed.error().str());
  }
}

oci::Image load_sample(const TempDir& temp, const std::string& seed) {
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index(seed));
  auto image = oci::load_image(temp.path(), {});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  return *image;
}

registry::Options options_for(const std::string& host) {
  registry::Options options;
  options.host = host;
  return options;
}

}  // namespace

TEST_CASE("verify destination against registry") {
  RegistryServer server(RegistryServer::Mode::plain);
  TempDir temp;
  const auto image = load_sample(temp, "verify");
  registry::RegistryClient client(options_for(server.host()));
  push_directly(client, image, "acme/app", {"1.2.3", "latest"});

  SUBCASE("matching tags") {
    const auto checks = verify::verify_destination(client, "acme/app", {"1.2.3", "latest"}, image.digest());
    REQUIRE(checks.size() == 2);
    for (const auto& check : checks) {
      CAPTURE(check.tag);
      CHECK_MESSAGE(check.ok, check.error);
      CHECK(check.registry == server.host());
      CHECK(check.repository == "acme/app");
      CHECK(check.actual_digest == image.digest());
      CHECK(check.expected_digest == image.digest());
      CHECK(check.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64"});
    }
  }

  SUBCASE("different digest") {
    TempDir other_temp;
    const auto other = load_sample(other_temp, "other");
    push_directly(client, other, "acme/app", {"latest"});
    const auto checks = verify::verify_destination(client, "acme/app", {"1.2.3", "latest"}, image.digest());
    REQUIRE(checks.size() == 2);
    CHECK(checks[0].ok);
    CHECK_FALSE(checks[1].ok);
    CHECK(checks[1].actual_digest == other.digest());
    CHECK(checks[1].error.find(other.digest()) != std::string::npos);
    CHECK(checks[1].error.find(image.digest()) != std::string::npos);
    CHECK(checks[1].platforms == std::vector<std::string>{"linux/amd64", "linux/arm64"});
  }

  SUBCASE("missing tag") {
    const auto checks = verify::verify_destination(client, "acme/app", {"9.9.9"}, image.digest());
    REQUIRE(checks.size() == 1);
    CHECK_FALSE(checks[0].ok);
    CHECK(checks[0].actual_digest.empty());
    CHECK(checks[0].error.find("acme/app:9.9.9") != std::string::npos);
    CHECK(checks[0].error.find("not found") != std::string::npos);
  }
}

TEST_CASE("verify destination unreachable registry") {
  // Point a client at a registry, then stop the registry.
  auto stopped = std::make_unique<RegistryServer>(RegistryServer::Mode::plain);
  registry::RegistryClient client(options_for(stopped->host()));
  stopped.reset();
  const auto checks = verify::verify_destination(client, "acme/app", {"latest"}, "sha256:" + std::string(64, '0'));
  REQUIRE(checks.size() == 1);
  CHECK_FALSE(checks[0].ok);
  CHECK(checks[0].error.find("acme/app:latest") != std::string::npos);
}
