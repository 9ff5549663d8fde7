#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "multipush/oci/digest.hpp"
#include "oci/layout_builder.hpp"
#include "push/fake_target.hpp"
#include "push/ring.hpp"
#include "push/target.hpp"

using namespace multipush;
using multipush::push::detail::ChunkRing;
using multipush::push::detail::fill_ring;
using multipush::testing::FakeRegistry;
using multipush::testing::LayoutBuilder;
using multipush::testing::RecordingObserver;
using multipush::testing::TempDir;

namespace {

constexpr std::size_t kChunk = 1024;

struct BlobFile {
  std::filesystem::path path;
  oci::Descriptor descriptor;
  std::string bytes;
};

BlobFile write_blob(const TempDir& temp, std::size_t size) {
  BlobFile blob;
  blob.bytes = multipush::testing::filler("ring", size);
  blob.path = temp.path() / "blob";
  multipush::testing::write_file(blob.path, blob.bytes);
  blob.descriptor.digest = oci::sha256_digest(blob.bytes);
  blob.descriptor.size = size;
  return blob;
}

// Reads reader `consumer` to the end, sleeping `delay` before each read.
// Returns what it read, or stops at the first SIZE_MAX and sets `failed`.
std::string drain(ChunkRing& ring, std::size_t consumer, std::chrono::microseconds delay, bool& failed,
                  std::size_t stop_after = SIZE_MAX) {
  std::string received;
  std::vector<char> buffer(700);  // not a multiple of the chunk size
  failed = false;
  while (received.size() < stop_after) {
    if (delay.count() > 0) {
      std::this_thread::sleep_for(delay);
    }
    const std::size_t count = ring.read(consumer, buffer.data(), buffer.size());
    if (count == SIZE_MAX) {
      failed = true;
      break;
    }
    if (count == 0) {
      break;
    }
    received.append(buffer.data(), count);
  }
  return received;
}

}  // namespace

TEST_CASE("ring slow and fast readers") {
  TempDir temp;
  const auto blob = write_blob(temp, 64 * kChunk + 123);
  ChunkRing ring(kChunk, 4, 2);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring(ring, blob.path, blob.descriptor, cancelled); });

  bool fast_failed = true;
  bool slow_failed = true;
  std::string fast;
  std::string slow;
  std::thread fast_reader([&] { fast = drain(ring, 0, std::chrono::microseconds(0), fast_failed); });
  std::thread slow_reader([&] { slow = drain(ring, 1, std::chrono::microseconds(200), slow_failed); });
  fast_reader.join();
  slow_reader.join();
  producer.join();

  CHECK_FALSE(fast_failed);
  CHECK_FALSE(slow_failed);
  CHECK(fast == blob.bytes);
  CHECK(slow == blob.bytes);
  CHECK(ring.error().empty());
}

TEST_CASE("ring buffers at most its capacity") {
  TempDir temp;
  const auto blob = write_blob(temp, 200 * kChunk);
  constexpr std::size_t kCapacity = 6;
  ChunkRing ring(kChunk, kCapacity, 3);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring(ring, blob.path, blob.descriptor, cancelled); });

  std::vector<std::string> received(3);
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < 3; ++i) {
    readers.emplace_back([&, i] {
      bool failed = false;
      received[i] = drain(ring, i, std::chrono::microseconds(i == 2 ? 300 : 0), failed);
    });
  }
  for (auto& reader : readers) {
    reader.join();
  }
  producer.join();

  for (const auto& bytes : received) {
    CHECK(bytes == blob.bytes);
  }
  // The slow reader lets the ring fill up, but never beyond its capacity.
  CHECK(ring.peak_buffered() == kCapacity);
}

TEST_CASE("ring reader detaching mid-blob") {
  TempDir temp;
  const auto blob = write_blob(temp, 50 * kChunk);
  ChunkRing ring(kChunk, 2, 2);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring(ring, blob.path, blob.descriptor, cancelled); });

  bool failed = false;
  std::string partial;
  std::thread quitter([&] {
    partial = drain(ring, 1, std::chrono::microseconds(0), failed, 3 * kChunk);
    ring.detach(1);
  });
  bool complete_failed = true;
  const std::string complete = drain(ring, 0, std::chrono::microseconds(100), complete_failed);
  quitter.join();
  producer.join();

  CHECK_FALSE(complete_failed);
  CHECK(complete == blob.bytes);
  CHECK(partial.size() >= 3 * kChunk);
  CHECK(ring.read(1, nullptr, 0) == SIZE_MAX);
}

TEST_CASE("ring corrupt blob reaches no reader whole") {
  TempDir temp;
  auto blob = write_blob(temp, 10 * kChunk + 5);
  blob.descriptor.digest = oci::sha256_digest("something else");
  ChunkRing ring(kChunk, 4, 2);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring(ring, blob.path, blob.descriptor, cancelled); });

  bool first_failed = false;
  bool second_failed = false;
  std::string first;
  std::thread other([&] { first = drain(ring, 0, std::chrono::microseconds(0), first_failed); });
  const std::string second = drain(ring, 1, std::chrono::microseconds(0), second_failed);
  other.join();
  producer.join();

  CHECK(first_failed);
  CHECK(second_failed);
  CHECK(first.size() < blob.bytes.size());
  CHECK(second.size() < blob.bytes.size());
  CHECK(ring.error().find("corrupt") != std::string::npos);
  CHECK(ring.error().find(blob.path.string()) != std::string::npos);
}

TEST_CASE("ring short file fails readers") {
  TempDir temp;
  auto blob = write_blob(temp, 3 * kChunk);
  blob.descriptor.size = 5 * kChunk;
  ChunkRing ring(kChunk, 4, 1);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring(ring, blob.path, blob.descriptor, cancelled); });
  bool failed = false;
  drain(ring, 0, std::chrono::microseconds(0), failed);
  producer.join();
  CHECK(failed);
  CHECK(ring.error().find("shorter than its descriptor size") != std::string::npos);
}

TEST_CASE("ring producer stops when every reader detached") {
  TempDir temp;
  const auto blob = write_blob(temp, 100 * kChunk);
  ChunkRing ring(kChunk, 2, 2);
  std::atomic<bool> cancelled{false};
  ring.detach(0);
  ring.detach(1);
  fill_ring(ring, blob.path, blob.descriptor, cancelled);  // returns instead of waiting forever
  CHECK(ring.peak_buffered() == 0);
}

namespace {

oci::Image load_sample(const TempDir& temp) {
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("fanout"), "1.2.3");
  auto image = oci::load_image(temp.path(), {});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  return *image;
}

push::Destination fake_destination(const std::string& registry) {
  push::Destination result;
  result.registry = registry;
  result.repository = "acme/app";
  result.tags = {"1.2.3"};
  return result;
}

constexpr push::detail::RetryPolicy kFastRetry{.max_attempts = 3, .base_delay = std::chrono::milliseconds(1)};
// Small chunks, so that the sample's 300 KiB layers span many ring slots.
constexpr push::PushOptions kSmallRing{.max_total_connections = 16, .concurrent_blobs = 2, .chunk_size = 4096,
                                       .ring_chunks = 3};

}  // namespace

TEST_CASE("fan-out destination failing mid-blob") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry healthy;
  FakeRegistry flaky;
  flaky.broken_uploads = 2;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(
      image, {fake_destination("healthy.invalid"), fake_destination("flaky.invalid")}, {&healthy, &flaky}, observer,
      cancelled, kFastRetry, kSmallRing);
  REQUIRE(results.size() == 2);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK_MESSAGE(results[1].ok, results[1].error);
  CHECK(results[0].blobs_uploaded == 8);
  CHECK(results[1].blobs_uploaded == 8);
  CHECK(healthy.count_calls("PUT-BLOB") == 8);
  CHECK(flaky.count_calls("PUT-BLOB") == 10);  // two broken uploads sent again
  // The two broken uploads may hit two blobs or the same blob twice,
  // depending on which blob group reaches the fake first, so count the
  // extra attempts rather than the blobs that needed them.
  int extra_attempts = 0;
  for (const auto& event : observer.blobs) {
    if (event.attempts <= 1) continue;
    extra_attempts += event.attempts - 1;
    CHECK(event.repository == "acme/app");
  }
  CHECK(extra_attempts == 2);
  CHECK(flaky.manifest("acme/app", "1.2.3") == image.root.bytes);
}

TEST_CASE("fan-out slow destination finishes") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry fast;
  FakeRegistry slow;
  slow.read_delay = std::chrono::microseconds(300);
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};

  const auto results = push::detail::push_to_targets(
      image, {fake_destination("fast.invalid"), fake_destination("slow.invalid")}, {&fast, &slow}, observer,
      cancelled, kFastRetry, kSmallRing);
  CHECK_MESSAGE(results[0].ok, results[0].error);
  CHECK_MESSAGE(results[1].ok, results[1].error);
  CHECK(slow.manifest("acme/app", "1.2.3") == image.root.bytes);
  CHECK(fast.manifest("acme/app", "1.2.3") == image.root.bytes);
}

TEST_CASE("fan-out second run uploads nothing") {
  TempDir temp;
  const auto image = load_sample(temp);
  FakeRegistry first;
  FakeRegistry second;
  RecordingObserver observer;
  std::atomic<bool> cancelled{false};
  const std::vector<push::Destination> destinations{fake_destination("a.invalid"), fake_destination("b.invalid")};

  push::detail::push_to_targets(image, destinations, {&first, &second}, observer, cancelled, kFastRetry, kSmallRing);
  const int manifests_before = first.count_calls("PUT-MANIFEST");
  const auto again =
      push::detail::push_to_targets(image, destinations, {&first, &second}, observer, cancelled, kFastRetry, kSmallRing);
  for (const auto& result : again) {
    CHECK_MESSAGE(result.ok, result.error);
    CHECK(result.blobs_uploaded == 0);
    CHECK(result.blobs_skipped == 8);
  }
  CHECK(first.count_calls("PUT-BLOB") == 8);
  CHECK(first.count_calls("PUT-MANIFEST") == manifests_before);
}
