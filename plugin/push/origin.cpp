#include "push/origin.hpp"

#include <cstring>
#include <filesystem>
#include <thread>

namespace multipush::push::detail {

std::string LayoutOrigin::check(const oci::Descriptor& blob) {
  const std::filesystem::path path = image_.blob_path(blob.digest);
  std::error_code size_error;
  const auto file_size = std::filesystem::file_size(path, size_error);
  if (size_error) {
    return "blob " + blob.digest + " is missing from the OCI layout: " + path.string();
  }
  if (file_size != blob.size) {
    return "blob " + blob.digest + " at " + path.string() + " is " + std::to_string(file_size) +
           " bytes, but its descriptor says " + std::to_string(blob.size) +
           "; rebuild the image into a fresh layout directory";
  }
  return {};
}

void LayoutOrigin::fill(ChunkRing& ring, const oci::Descriptor& blob, const std::atomic<bool>& cancelled) {
  fill_ring(ring, image_.blob_path(blob.digest), blob, cancelled);
}

http::BodyReader LayoutOrigin::open(const oci::Descriptor& blob, std::shared_ptr<FileReadState> state,
                                    std::function<void(std::uint64_t)> counted) {
  return open_blob_file(image_.blob_path(blob.digest), blob, std::move(state), std::move(counted));
}

void fill_ring_from_store(ChunkRing& ring, BlobStore& store, const oci::Descriptor& blob,
                          const std::atomic<bool>& cancelled) {
  char* buffer = nullptr;
  std::size_t filled = 0;
  std::uint64_t received = 0;
  bool too_long = false;
  // Copies the store's bytes into ring buffers. A full buffer is published
  // at once unless it ends the blob: the last one waits until the store has
  // checked the digest.
  const http::BodySink sink = [&](const char* data, std::size_t size) -> bool {
    if (received + size > blob.size) {
      too_long = true;
      return false;
    }
    while (size > 0) {
      if (cancelled.load()) {
        return false;
      }
      if (buffer == nullptr) {
        buffer = ring.next_buffer();
        if (buffer == nullptr) {
          return false;  // every destination detached or the ring failed
        }
        filled = 0;
      }
      const std::size_t count = std::min(size, ring.chunk_size() - filled);
      std::memcpy(buffer + filled, data, count);
      filled += count;
      data += count;
      size -= count;
      received += count;
      if (filled == ring.chunk_size() && received < blob.size) {
        ring.publish(filled);
        buffer = nullptr;
      }
    }
    return true;
  };

  auto outcome = store.read(blob, sink);
  if (cancelled.load()) {
    ring.fail("interrupted while reading blob " + blob.digest);
    return;
  }
  if (too_long) {
    ring.fail("the source of blob " + blob.digest + " sent more than the " + std::to_string(blob.size) +
              " bytes its descriptor lists");
    return;
  }
  if (!outcome) {
    ring.fail(outcome.error());
    return;
  }
  if (received != blob.size) {
    ring.fail("the source of blob " + blob.digest + " sent " + std::to_string(received) + " of its " +
              std::to_string(blob.size) + " bytes");
    return;
  }
  if (buffer != nullptr && filled > 0) {
    ring.publish(filled);
  }
  ring.finish();
}

void StoreOrigin::fill(ChunkRing& ring, const oci::Descriptor& blob, const std::atomic<bool>& cancelled) {
  fill_ring_from_store(ring, store_, blob, cancelled);
}

namespace {

// A private read of the store for one reader: the producer thread fills a
// ring with one consumer. Destroying the pipe detaches the reader, which
// stops the producer at its next chunk, and joins the thread.
struct StorePipe {
  StorePipe(std::size_t chunk_size, std::size_t chunks) : ring(chunk_size, chunks, 1) {}
  StorePipe(const StorePipe&) = delete;
  StorePipe& operator=(const StorePipe&) = delete;
  ~StorePipe() {
    ring.detach(0);
    if (producer.joinable()) {
      producer.join();
    }
  }

  ChunkRing ring;
  std::thread producer;
};

}  // namespace

http::BodyReader StoreOrigin::open(const oci::Descriptor& blob, std::shared_ptr<FileReadState> state,
                                   std::function<void(std::uint64_t)> counted) {
  auto pipe = std::make_shared<StorePipe>(chunk_size_, ring_chunks_);
  // The thread holds no reference to the pipe, so the pipe's destructor,
  // which joins it, runs when the last copy of the reader goes away.
  pipe->producer = std::thread([ring = &pipe->ring, &store = store_, blob, &cancelled = cancelled_] {
    fill_ring_from_store(*ring, store, blob, cancelled);
  });
  return [pipe, state, counted](char* buffer, std::size_t size) -> std::size_t {
    const std::size_t count = pipe->ring.read(0, buffer, size);
    if (count == SIZE_MAX) {
      std::lock_guard lock(state->mutex);
      if (state->error.empty()) {
        state->error = pipe->ring.error();
      }
    } else if (count != 0 && counted) {
      counted(count);
    }
    return count;
  };
}

}  // namespace multipush::push::detail
