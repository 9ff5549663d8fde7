#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>

#include "oci/layout_builder.hpp"
#include "push/fake_target.hpp"
#include "push/target.hpp"

using namespace multipush;
using multipush::testing::FakeRegistry;
using multipush::testing::LayoutBuilder;
using multipush::testing::RecordingObserver;
using multipush::testing::TempDir;

namespace {

constexpr push::detail::RetryPolicy kFastRetry{.max_attempts = 3, .base_delay = std::chrono::milliseconds(1)};

oci::Image load_sample(const TempDir& temp) {
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("engine"), "1.2.3");
  auto image = oci::load_image(temp.path(), {});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  return *image;
}

push::Destination destination(const std::string& repository, std::vector<std::string> tags = {"1.2.3", "latest"}) {
  push::Destination result;
  result.registry = "fake.invalid";
  result.repository = repository;
  result.tags = std::move(tags);
  return result;
}

// Index of the first call starting with `prefix`, or calls.size().
size_t first_index(const std::vector<std::string>& calls, const std::string& prefix) {
  const auto found = std::find_if(calls.begin(), calls.end(), [&](const auto& call) { return call.starts_with(prefix); });
  return static_cast<size_t>(found - calls.begin());
}

size_t last_index(const std::vector<std::string>& calls, const std::string& prefix) {
  size_t last = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].starts_with(prefix)) {
      last = i;
    }
  }
  return last;
}

}  // namespace

TEST_CASE("push engine order and tags") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  REQUIRE(results.size() == 1);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].digest == image.digest());
  CHECK(results[0].tags == std::vector<std::string>{"1.2.3", "latest"});
  CHECK(results[0].blobs_uploaded == 8);
  CHECK(results[0].blobs_skipped == 0);

  const auto calls = registry.calls_for("acme/app");
  const auto& platform_a = image.platforms[0].stored.descriptor.digest;
  const auto& platform_b = image.platforms[1].stored.descriptor.digest;
  const auto& attestation = image.attestations[0].stored.descriptor.digest;
  const size_t last_blob = last_index(calls, "PUT-BLOB");
  const size_t first_manifest = first_index(calls, "PUT-MANIFEST");
  CHECK(last_blob < first_manifest);
  const size_t platform_position = first_index(calls, "PUT-MANIFEST acme/app " + platform_b);
  const size_t attestation_position = first_index(calls, "PUT-MANIFEST acme/app " + attestation);
  const size_t index_position = first_index(calls, "PUT-MANIFEST acme/app " + image.digest());
  const size_t tag_position = first_index(calls, "PUT-MANIFEST acme/app 1.2.3");
  CHECK(first_index(calls, "PUT-MANIFEST acme/app " + platform_a) < platform_position);
  CHECK(platform_position < attestation_position);
  CHECK(attestation_position < index_position);
  CHECK(index_position < tag_position);
  CHECK(tag_position < calls.size());

  CHECK(registry.manifest("acme/app", "latest") == image.root.bytes);
  CHECK(observer.tags.size() == 2);
  CHECK(observer.manifests.size() == 5);
}

TEST_CASE("push engine second push skips blobs") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  const std::vector<push::Destination> destinations{destination("acme/app")};

  REQUIRE(push::detail::push_to_targets(image, destinations, {&registry}, observer, cancelled, kFastRetry)[0].ok);
  const auto again = push::detail::push_to_targets(image, destinations, {&registry}, observer, cancelled, kFastRetry);
  CHECK_MESSAGE(again[0].ok, again[0].error);
  CHECK(again[0].blobs_skipped == 8);
  CHECK(again[0].blobs_uploaded == 0);
  CHECK(observer.count("acme/app", "skipped") == 8);
}

TEST_CASE("push engine mounts within one host") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  // One connection makes the second destination start after the first finished.
  auto first = destination("acme/app");
  auto second = destination("acme/mirror");
  first.max_connections = 1;
  second.max_connections = 1;

  const auto results =
      push::detail::push_to_targets(image, {first, second}, {&registry, &registry}, observer, cancelled, kFastRetry);
  REQUIRE(results.size() == 2);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK_MESSAGE(results[1].ok, results[1].error);
  const int mounted = results[0].blobs_mounted + results[1].blobs_mounted;
  const int uploaded = results[0].blobs_uploaded + results[1].blobs_uploaded;
  CHECK(mounted == 8);
  CHECK(uploaded == 8);
}

TEST_CASE("push engine mount fallback uses the session") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  registry.mount_unsupported = true;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  auto first = destination("acme/app");
  auto second = destination("acme/mirror");
  first.max_connections = 1;
  second.max_connections = 1;

  const auto results =
      push::detail::push_to_targets(image, {first, second}, {&registry, &registry}, observer, cancelled, kFastRetry);
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(results[0].blobs_uploaded + results[1].blobs_uploaded == 16);
  // Whichever destination ran second tried a mount for every blob, and the
  // 202 response to the mount is the session, so it sent no POST of its own.
  const auto app_calls = registry.calls_for("acme/app");
  const auto mirror_calls = registry.calls_for("acme/mirror");
  const bool app_first = first_index(mirror_calls, "MOUNT") < mirror_calls.size();
  const auto& second_calls = app_first ? mirror_calls : app_calls;
  const auto& first_calls = app_first ? app_calls : mirror_calls;
  CHECK(first_index(second_calls, "MOUNT") < second_calls.size());
  CHECK(first_index(second_calls, "POST") == second_calls.size());
  CHECK(first_index(first_calls, "MOUNT") == first_calls.size());
}

TEST_CASE("push engine failing destination does not stop others") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry healthy;
  FakeRegistry dead;
  dead.down = true;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app"), destination("acme/app")},
                                                     {&healthy, &dead}, observer, cancelled, kFastRetry);
  REQUIRE(results.size() == 2);
  CHECK(results[0].ok);
  CHECK_FALSE(results[1].ok);
  CHECK(results[1].error.find("connection refused") != std::string::npos);
  CHECK(results[1].tags.empty());
  CHECK(dead.calls().size() == 3);  // check_push_access, tried max_attempts times
  CHECK(healthy.manifest("acme/app", "latest").has_value());
}

TEST_CASE("push engine retries a failed upload") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  registry.failing_uploads = 1;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].blobs_uploaded == 8);
  const auto retried = std::count_if(observer.blobs.begin(), observer.blobs.end(),
                                     [](const auto& event) { return event.attempts == 2; });
  CHECK(retried == 1);
}

TEST_CASE("push engine corrupted blob fails destination") {
  TempDir temp;
  const auto image = load_sample(temp);
  // Flip one byte of the largest layer after loading, as disk corruption would.
  const auto blobs = image.blobs();
  const auto largest = *std::max_element(blobs.begin(), blobs.end(),
                                         [](const auto& a, const auto& b) { return a.size < b.size; });
  const auto path = image.blob_path(largest.digest);
  std::string bytes = multipush::testing::filler("unused", 0);
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() - 1] = static_cast<char>(bytes[bytes.size() - 1] ^ 0x1);
  multipush::testing::write_file(path, bytes);

  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].error.find(largest.digest) != std::string::npos);
  CHECK(results[0].error.find(path.string()) != std::string::npos);
  CHECK(results[0].error.find("corrupt") != std::string::npos);
  CHECK_FALSE(registry.has_blob("acme/app", largest.digest));
  CHECK_FALSE(registry.manifest("acme/app", "latest").has_value());
}

TEST_CASE("push engine drops attestations") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  auto stripped = destination("acme/app");
  stripped.drop_attestations = true;

  const auto results =
      push::detail::push_to_targets(image, {stripped}, {&registry}, observer, cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].digest != image.digest());
  CHECK(results[0].blobs_uploaded == 5);
  CHECK_FALSE(registry.manifest("acme/app", image.attestations[0].stored.descriptor.digest).has_value());
  const auto tagged = registry.manifest("acme/app", "latest");
  REQUIRE(tagged.has_value());
  CHECK(oci::sha256_digest(*tagged) == results[0].digest);
}

TEST_CASE("push engine unauthorized destination") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  registry.deny = true;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].unauthorized);
  CHECK(registry.calls().size() == 1);
}

TEST_CASE("push engine cancelled before start") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{true};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].error.find("interrupted") != std::string::npos);
  CHECK_FALSE(registry.manifest("acme/app", "latest").has_value());
}
