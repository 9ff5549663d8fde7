#include <doctest/doctest.h>

#include <atomic>

#include "multipush/push/push.hpp"
#include "multipush/util/process.hpp"
#include "oci/layout_builder.hpp"
#include "push/fake_target.hpp"
#include "registry/registry_fixture.hpp"

using namespace multipush;
using multipush::test::RegistryServer;
using multipush::testing::LayoutBuilder;
using multipush::testing::RecordingObserver;
using multipush::testing::TempDir;

namespace {

oci::Image load_sample(const TempDir& temp) {
  LayoutBuilder builder(temp.path(), false);
  builder.add_entry(builder.add_two_platform_index("registry"), "docker.io/acme/app:1.2.3");
  auto image = oci::load_image(temp.path(), {.digest = "", .ref_name = "1.2.3"});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  return *image;
}

registry::Options options_for(const std::string& host) {
  registry::Options options;
  options.host = host;
  return options;
}

push::Destination destination(const std::string& host, registry::RegistryClient& client,
                              const std::string& repository) {
  push::Destination result;
  result.registry = host;
  result.repository = repository;
  result.tags = {"1.2.3", "latest"};
  result.client = &client;
  return result;
}

// Returns a loopback port that nothing listens on.
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

TEST_CASE("push to registry two repositories") {
  RegistryServer server(RegistryServer::Mode::plain);
  TempDir temp;
  const auto image = load_sample(temp);
  registry::RegistryClient client(options_for(server.host()));
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  const std::vector<push::Destination> destinations{destination(server.host(), client, "acme/app"),
                                                    destination(server.host(), client, "acme/mirror")};

  const auto first = push::push_image(image, destinations, observer, cancelled);
  REQUIRE(first.size() == 2);
  for (const auto& result : first) {
    CAPTURE(result.destination.repository);
    CHECK_MESSAGE(result.ok, result.error);
    CHECK(result.digest == image.digest());
    CHECK(result.tags == std::vector<std::string>{"1.2.3", "latest"});
    // Concurrent destinations may mount from each other or upload the same blob.
    CHECK(result.blobs_uploaded + result.blobs_mounted + result.blobs_skipped == 8);
  }

  for (const auto& repository : {"acme/app", "acme/mirror"}) {
    CAPTURE(repository);
    auto served = client.get_manifest(repository, "latest");
    REQUIRE_MESSAGE(served.has_value(), served.error().str());
    CHECK(served->bytes == image.root.bytes);
    CHECK(served->digest == image.digest());
    CHECK(served->media_type == oci::media_type::kOciIndex);

    for (const auto& child : image.attestations) {
      auto head = client.head_manifest(repository, child.stored.descriptor.digest);
      REQUIRE(head.has_value());
      CHECK(head->value_or("") == child.stored.descriptor.digest);
    }
    auto tag = client.head_manifest(repository, "1.2.3");
    REQUIRE(tag.has_value());
    CHECK(tag->value_or("") == image.digest());
  }

  // skopeo, an independent client, reads the same digest back.
  if (util::find_program("skopeo")) {
    auto inspected = util::run_process({"skopeo", "inspect", "--raw", "--tls-verify=false",
                                        "docker://" + server.host() + "/acme/mirror:1.2.3"});
    REQUIRE(inspected.has_value());
    CHECK_MESSAGE(inspected->exit_code == 0, inspected->stderr_text);
    CHECK(oci::sha256_digest(inspected->stdout_text) == image.digest());
  }

  SUBCASE("second push skips every blob") {
    const auto second = push::push_image(image, destinations, observer, cancelled);
    for (const auto& result : second) {
      CAPTURE(result.destination.repository);
      CHECK_MESSAGE(result.ok, result.error);
      CHECK(result.blobs_skipped == 8);
      CHECK(result.blobs_uploaded == 0);
      CHECK(result.blobs_mounted == 0);
    }
  }

  SUBCASE("new repository mounts from pushed ones") {
    auto third = destination(server.host(), client, "acme/third");
    const auto results = push::push_image(image, {third}, observer, cancelled);
    CHECK_MESSAGE(results[0].ok, results[0].error);
    CHECK(results[0].blobs_mounted == 0);  // mount knowledge lives for one push_image call
    CHECK(results[0].blobs_uploaded == 8);
  }
}

TEST_CASE("push to registry mounts sequential destinations") {
  RegistryServer server(RegistryServer::Mode::plain);
  TempDir temp;
  const auto image = load_sample(temp);
  registry::RegistryClient client(options_for(server.host()));
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  auto first = destination(server.host(), client, "acme/app");
  auto second = destination(server.host(), client, "acme/mirror");
  first.max_connections = 1;
  second.max_connections = 1;

  const auto results = push::push_image(image, {first, second}, observer, cancelled);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK_MESSAGE(results[1].ok, results[1].error);
  CHECK(results[0].blobs_uploaded + results[1].blobs_uploaded == 8);
  CHECK(results[0].blobs_mounted + results[1].blobs_mounted == 8);
}

TEST_CASE("push to registry dead port fails alone") {
  RegistryServer server(RegistryServer::Mode::plain);
  TempDir temp;
  const auto image = load_sample(temp);
  const std::string dead_host = "127.0.0.1:" + std::to_string(unused_port());
  registry::RegistryClient live_client(options_for(server.host()));
  registry::RegistryClient dead_client(options_for(dead_host));
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::push_image(
      image, {destination(dead_host, dead_client, "acme/app"), destination(server.host(), live_client, "acme/app")},
      observer, cancelled);
  REQUIRE(results.size() == 2);
  CHECK_FALSE(results[0].ok);
  CHECK_FALSE(results[0].error.empty());
  CHECK(results[0].tags.empty());
  CHECK_MESSAGE(results[1].ok, results[1].error);
  CHECK(results[1].tags.size() == 2);
}

TEST_CASE("push to registry without attestations") {
  RegistryServer server(RegistryServer::Mode::plain);
  TempDir temp;
  const auto image = load_sample(temp);
  registry::RegistryClient client(options_for(server.host()));
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  auto stripped = destination(server.host(), client, "acme/app");
  stripped.drop_attestations = true;

  const auto results = push::push_image(image, {stripped}, observer, cancelled);
  REQUIRE_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].digest != image.digest());
  CHECK(results[0].blobs_uploaded == 5);
  auto served = client.get_manifest("acme/app", "1.2.3");
  REQUIRE(served.has_value());
  CHECK(served->digest == results[0].digest);
  auto attestation = client.head_manifest("acme/app", image.attestations[0].stored.descriptor.digest);
  REQUIRE(attestation.has_value());
  CHECK_FALSE(attestation->has_value());
}
