#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "multipush/oci/digest.hpp"
#include "multipush/push/push.hpp"

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

namespace {

const std::string kSourceKey = "containerd.io/distribution.source.fake.invalid";

// Pushes the sample image to `repository`, so that the registry contains every blob there.
void seed(FakeRegistry& registry, const oci::Image& image, const std::string& repository) {
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  const auto seeded = push::detail::push_to_targets(image, {destination(repository, {})}, {&registry}, observer,
                                                    cancelled, kFastRetry);
  REQUIRE_MESSAGE(seeded[0].ok, seeded[0].error);
}

}  // namespace

TEST_CASE("push engine mounts from annotated repository") {
  TempDir temp;
  auto image = load_sample(temp);
  FakeRegistry registry;
  seed(registry, image, "acme/base");
  image.root.descriptor.annotations[kSourceKey] = "acme/base";
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  REQUIRE(results.size() == 1);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].blobs_mounted == 8);
  CHECK(results[0].blobs_uploaded == 0);
  CHECK(observer.count("acme/app", "mounted") == 8);
  CHECK(registry.count_calls("MOUNT acme/app") == 8);
  CHECK(registry.count_calls("PUT-BLOB acme/app") == 0);
  CHECK(registry.count_calls("POST acme/app") == 0);
  for (const auto& call : registry.calls_for("acme/app")) {
    if (call.starts_with("MOUNT")) {
      CHECK(call.ends_with(" from acme/base"));
    }
  }
  CHECK(registry.manifest("acme/app", "1.2.3") == image.root.bytes);
}

TEST_CASE("push engine mount hint answered 202") {
  TempDir temp;
  auto image = load_sample(temp);
  FakeRegistry registry;
  // The annotation names a repository that does not hold the blobs, so the
  // registry opens an upload session instead of mounting.
  image.root.descriptor.annotations[kSourceKey] = "acme/stale,acme/other";
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].blobs_uploaded == 8);
  // One mount per blob: the session of the first 202 carries the upload,
  // with no second mount and no POST of its own.
  CHECK(registry.count_calls("MOUNT acme/app") == 8);
  CHECK(registry.count_calls("POST acme/app") == 0);
  CHECK(registry.count_calls("PUT-BLOB acme/app") == 8);
}

TEST_CASE("push engine ignores hints for other hosts") {
  TempDir temp;
  auto image = load_sample(temp);
  FakeRegistry registry;
  seed(registry, image, "acme/base");
  image.root.descriptor.annotations["containerd.io/distribution.source.ghcr.io"] = "acme/base";
  image.root.descriptor.annotations["containerd.io/distribution.source.fake.invalid:5000"] = "acme/base";
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(registry.count_calls("MOUNT") == 0);
  CHECK(results[0].blobs_uploaded == 8);
}

TEST_CASE("push engine sends docker hub only its own hints") {
  TempDir temp;
  auto image = load_sample(temp);
  FakeRegistry registry;
  seed(registry, image, "library/base");
  image.root.descriptor.annotations["containerd.io/distribution.source.ghcr.io"] = "library/base";
  auto hub = destination("acme/app");
  hub.registry = "docker.io";
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  auto results = push::detail::push_to_targets(image, {hub}, {&registry}, observer, cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(registry.count_calls("MOUNT") == 0);

  // A hint recorded under another of Hub's names is for the same registry.
  image.root.descriptor.annotations["containerd.io/distribution.source.registry-1.docker.io"] = "library/base";
  hub.repository = "acme/second";
  results = push::detail::push_to_targets(image, {hub}, {&registry}, observer, cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(registry.count_calls("MOUNT acme/second") == 8);
  CHECK(results[0].blobs_mounted == 8);
}

TEST_CASE("push engine skips hint naming the destination") {
  TempDir temp;
  auto image = load_sample(temp);
  FakeRegistry registry;
  image.root.descriptor.annotations[kSourceKey] = "acme/app";
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(registry.count_calls("MOUNT") == 0);
}

namespace {

// Blobs served from memory, counting how often each one is read.
class MemoryStore final : public push::BlobStore {
 public:
  void add(const std::string& bytes) { blobs_[oci::sha256_digest(bytes)] = bytes; }
  void add_from_layout(const oci::Image& image) {
    for (const auto& blob : image.blobs()) {
      std::ifstream file(image.blob_path(blob.digest), std::ios::binary);
      add(std::string(std::istreambuf_iterator<char>(file), {}));
    }
  }

  std::expected<void, std::string> read(const oci::Descriptor& blob, const http::BodySink& sink) override {
    std::string bytes;
    {
      std::lock_guard lock(mutex_);
      ++reads_[blob.digest];
      if (failing_ == blob.digest) {
        return std::unexpected("cannot download blob " + blob.digest + ": HTTP 500");
      }
      const auto found = blobs_.find(blob.digest);
      if (found == blobs_.end()) {
        return std::unexpected("blob " + blob.digest + " was not found");
      }
      bytes = found->second;
    }
    // Deliver in uneven pieces, as a network read does.
    for (std::size_t offset = 0; offset < bytes.size();) {
      const std::size_t count = std::min<std::size_t>(7919, bytes.size() - offset);
      if (!sink(bytes.data() + offset, count)) {
        return std::unexpected("the consumer of blob " + blob.digest + " stopped reading");
      }
      offset += count;
    }
    return {};
  }

  int reads(const std::string& digest) {
    std::lock_guard lock(mutex_);
    return reads_[digest];
  }
  int total_reads() {
    std::lock_guard lock(mutex_);
    int total = 0;
    for (const auto& [digest, count] : reads_) {
      total += count;
    }
    return total;
  }
  void fail(const std::string& digest) {
    std::lock_guard lock(mutex_);
    failing_ = digest;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, int> reads_;
  std::string failing_;
};

}  // namespace

TEST_CASE("push engine reads blobs from a store once") {
  TempDir temp;
  const auto image = load_sample(temp);
  MemoryStore store;
  store.add_from_layout(image);
  // Without the layout's blob files, every byte has to come from the store.
  std::filesystem::remove_all(temp.path() / "blobs" / "sha256");
  FakeRegistry first;
  FakeRegistry second;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results =
      push::detail::push_to_targets(image, {destination("acme/app"), destination("acme/app")}, {&first, &second},
                                    observer, cancelled, kFastRetry, {}, &store);
  for (const auto& result : results) {
    CHECK_MESSAGE(result.ok, result.error);
    CHECK(result.blobs_uploaded == 8);
  }
  for (const auto& blob : image.blobs()) {
    CHECK(store.reads(blob.digest) == 1);
    CHECK(first.has_blob("acme/app", blob.digest));
    CHECK(second.has_blob("acme/app", blob.digest));
  }
  CHECK(first.manifest("acme/app", "latest") == image.root.bytes);
  CHECK(second.manifest("acme/app", "latest") == image.root.bytes);
}

TEST_CASE("push engine store retry reads again for one destination") {
  TempDir temp;
  const auto image = load_sample(temp);
  MemoryStore store;
  store.add_from_layout(image);
  FakeRegistry steady;
  FakeRegistry flaky;
  flaky.broken_uploads = 1;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results =
      push::detail::push_to_targets(image, {destination("acme/app"), destination("acme/app")}, {&steady, &flaky},
                                    observer, cancelled, kFastRetry, {}, &store);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK_MESSAGE(results[1].ok, results[1].error);
  // Every blob is read once for both, and the broken upload reads its blob
  // once more for the flaky registry alone.
  CHECK(store.total_reads() == 9);
  CHECK(steady.count_calls("PUT-BLOB") == 8);
  CHECK(flaky.count_calls("PUT-BLOB") == 9);
}

TEST_CASE("push engine store failure fails destination") {
  TempDir temp;
  const auto image = load_sample(temp);
  MemoryStore store;
  store.add_from_layout(image);
  const std::string broken = image.blobs().back().digest;
  store.fail(broken);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry, {}, &store);
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].error.find(broken) != std::string::npos);
  CHECK(results[0].error.find("HTTP 500") != std::string::npos);
  CHECK_FALSE(registry.has_blob("acme/app", broken));
  CHECK(registry.count_calls("PUT-MANIFEST") == 0);
  CHECK(results[0].tags.empty());
}

TEST_CASE("push engine pushes referrers before the root") {
  TempDir temp;
  auto image = load_sample(temp);
  MemoryStore store;
  store.add_from_layout(image);
  const std::string empty_config = "{}";
  const std::string sbom = R"({"spdxVersion":"SPDX-2.3"})";
  store.add(empty_config);
  store.add(sbom);
  const nlohmann::json referrer_json = {
      {"schemaVersion", 2},
      {"mediaType", oci::media_type::kOciManifest},
      {"artifactType", "application/vnd.example.sbom.v1+json"},
      {"config", {{"mediaType", oci::media_type::kOciEmpty}, {"digest", oci::sha256_digest(empty_config)}, {"size", 2}}},
      {"layers",
       {{{"mediaType", "application/spdx+json"}, {"digest", oci::sha256_digest(sbom)}, {"size", sbom.size()}}}},
      {"subject",
       {{"mediaType", oci::media_type::kOciIndex}, {"digest", image.digest()}, {"size", image.root.bytes.size()}}}};
  oci::ChildManifest referrer;
  referrer.stored.bytes = referrer_json.dump();
  referrer.stored.descriptor.media_type = oci::media_type::kOciManifest;
  referrer.stored.descriptor.digest = oci::sha256_digest(referrer.stored.bytes);
  referrer.stored.descriptor.size = referrer.stored.bytes.size();
  auto parsed = oci::parse_manifest(referrer.stored.bytes);
  REQUIRE(parsed.has_value());
  referrer.manifest = *parsed;
  image.referrers.push_back(referrer);
  FakeRegistry registry;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(image, {destination("acme/app")}, {&registry}, observer,
                                                     cancelled, kFastRetry, {}, &store);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK(results[0].blobs_uploaded == 10);

  const auto calls = registry.calls_for("acme/app");
  const std::string& referrer_digest = referrer.stored.descriptor.digest;
  const size_t referrer_position = first_index(calls, "PUT-MANIFEST acme/app " + referrer_digest);
  const size_t root_position = first_index(calls, "PUT-MANIFEST acme/app " + image.digest());
  const size_t listed_position = first_index(calls, "REFERRER acme/app " + image.digest() + " " + referrer_digest);
  const size_t tag_position = first_index(calls, "PUT-MANIFEST acme/app 1.2.3");
  CHECK(last_index(calls, "PUT-BLOB") < referrer_position);
  CHECK(referrer_position < root_position);
  CHECK(root_position < listed_position);
  CHECK(listed_position < tag_position);
  CHECK(tag_position < calls.size());
}
