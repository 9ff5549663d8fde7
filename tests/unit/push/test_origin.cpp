#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "multipush/oci/digest.hpp"
#include "multipush/push/push.hpp"
#include "oci/layout_builder.hpp"
#include "push/origin.hpp"
#include "push/ring.hpp"

using namespace multipush;
using multipush::push::detail::ChunkRing;
using multipush::push::detail::FileReadState;
using multipush::push::detail::fill_ring_from_store;
using multipush::push::detail::StoreOrigin;

namespace {

constexpr std::size_t kChunk = 1024;

// Serves one blob in pieces of `piece` bytes, optionally with extra bytes
// or an error after the last byte.
class OneBlobStore final : public push::BlobStore {
 public:
  explicit OneBlobStore(std::string bytes) : bytes_(std::move(bytes)) {}

  std::string extra;        // sent after the blob's bytes
  std::string final_error;  // returned after every byte was sent
  std::size_t piece = 333;
  std::atomic<int> reads{0};

  std::expected<void, std::string> read(const oci::Descriptor&, const http::BodySink& sink) override {
    ++reads;
    const std::string sent = bytes_ + extra;
    for (std::size_t offset = 0; offset < sent.size(); offset += piece) {
      if (!sink(sent.data() + offset, std::min(piece, sent.size() - offset))) {
        return std::unexpected("the reader stopped");
      }
    }
    if (!final_error.empty()) {
      return std::unexpected(final_error);
    }
    return {};
  }

 private:
  std::string bytes_;
};

oci::Descriptor describe_bytes(const std::string& bytes) {
  oci::Descriptor descriptor;
  descriptor.digest = oci::sha256_digest(bytes);
  descriptor.size = bytes.size();
  return descriptor;
}

// Reads consumer 0 of `ring` to the end; `failed` is set on SIZE_MAX.
std::string drain(ChunkRing& ring, bool& failed) {
  std::string received;
  char buffer[500];
  failed = false;
  while (true) {
    const std::size_t count = ring.read(0, buffer, sizeof buffer);
    if (count == SIZE_MAX) {
      failed = true;
      return received;
    }
    if (count == 0) {
      return received;
    }
    received.append(buffer, count);
  }
}

}  // namespace

TEST_CASE("store fill delivers every byte") {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kChunk, 3 * kChunk, 3 * kChunk + 17}) {
    CAPTURE(size);
    const std::string bytes = multipush::testing::filler("store", size);
    OneBlobStore store(bytes);
    ChunkRing ring(kChunk, 2, 1);
    std::atomic<bool> cancelled{false};
    std::thread producer([&] { fill_ring_from_store(ring, store, describe_bytes(bytes), cancelled); });
    bool failed = false;
    const std::string received = drain(ring, failed);
    producer.join();
    CHECK_FALSE(failed);
    CHECK(received == bytes);
    CHECK(ring.peak_buffered() <= 2);
  }
}

TEST_CASE("store fill holds the last chunk until the store succeeds") {
  const std::string bytes = multipush::testing::filler("held", 3 * kChunk);
  OneBlobStore store(bytes);
  store.final_error = "the blob's bytes hash to another digest";
  ChunkRing ring(kChunk, 4, 1);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring_from_store(ring, store, describe_bytes(bytes), cancelled); });
  bool failed = false;
  const std::string received = drain(ring, failed);
  producer.join();
  CHECK(failed);
  // The reader may see the two full chunks before the failure, but never the last.
  CHECK(received.size() <= 2 * kChunk);
  CHECK(ring.error() == store.final_error);
}

TEST_CASE("store fill rejects extra bytes") {
  const std::string bytes = multipush::testing::filler("long", kChunk + 5);
  OneBlobStore store(bytes);
  store.extra = "more";
  ChunkRing ring(kChunk, 4, 1);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] { fill_ring_from_store(ring, store, describe_bytes(bytes), cancelled); });
  bool failed = false;
  const std::string received = drain(ring, failed);
  producer.join();
  CHECK(failed);
  CHECK(received.size() < bytes.size());
  CHECK(ring.error().find("more than the " + std::to_string(bytes.size()) + " bytes") != std::string::npos);
}

TEST_CASE("store fill stops when cancelled") {
  const std::string bytes = multipush::testing::filler("cancel", 4 * kChunk);
  OneBlobStore store(bytes);
  ChunkRing ring(kChunk, 4, 1);
  std::atomic<bool> cancelled{true};
  fill_ring_from_store(ring, store, describe_bytes(bytes), cancelled);
  bool failed = false;
  drain(ring, failed);
  CHECK(failed);
  CHECK(ring.error().find("interrupted") != std::string::npos);
}

TEST_CASE("store origin reader streams its own copy") {
  const std::string bytes = multipush::testing::filler("open", 5 * kChunk + 3);
  OneBlobStore store(bytes);
  std::atomic<bool> cancelled{false};
  StoreOrigin origin(store, kChunk, 2, cancelled);
  auto state = std::make_shared<FileReadState>();
  std::uint64_t counted = 0;
  std::string received;
  {
    auto reader = origin.open(describe_bytes(bytes), state, [&counted](std::uint64_t count) { counted += count; });
    char buffer[700];
    while (true) {
      const std::size_t count = reader(buffer, sizeof buffer);
      REQUIRE(count != SIZE_MAX);
      if (count == 0) {
        break;
      }
      received.append(buffer, count);
    }
  }
  CHECK(received == bytes);
  CHECK(counted == bytes.size());
  CHECK(state->error.empty());
  CHECK(store.reads == 1);
}

TEST_CASE("store origin reader dropped midway") {
  const std::string bytes = multipush::testing::filler("drop", 64 * kChunk);
  OneBlobStore store(bytes);
  std::atomic<bool> cancelled{false};
  StoreOrigin origin(store, kChunk, 2, cancelled);
  auto state = std::make_shared<FileReadState>();
  {
    auto reader = origin.open(describe_bytes(bytes), state, {});
    char buffer[100];
    CHECK(reader(buffer, sizeof buffer) == sizeof buffer);
  }
  // Destroying the reader stopped and joined its producer thread; reaching
  // this line without a hang is the check.
  CHECK(state->error.empty());
}

TEST_CASE("store origin reader reports store failure") {
  const std::string bytes = multipush::testing::filler("fails", 2 * kChunk);
  OneBlobStore store(bytes);
  store.final_error = "cannot download blob: HTTP 503";
  std::atomic<bool> cancelled{false};
  StoreOrigin origin(store, kChunk, 2, cancelled);
  auto state = std::make_shared<FileReadState>();
  auto reader = origin.open(describe_bytes(bytes), state, {});
  char buffer[kChunk];
  std::size_t count = 0;
  do {
    count = reader(buffer, sizeof buffer);
  } while (count != 0 && count != SIZE_MAX);
  CHECK(count == SIZE_MAX);
  std::lock_guard lock(state->mutex);
  CHECK(state->error == store.final_error);
}
