#pragma once

// Fan-out of one blob: a reader thread fills a bounded ring of chunks from
// the layout file, and each destination's upload reads the ring at its own
// cursor, so the file is read and hashed once however many destinations
// need it.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "multipush/oci/descriptor.hpp"
#include "multipush/util/http.hpp"

namespace multipush::push::detail {

// A ring of `capacity` chunk buffers written by one producer and read by
// `consumers` readers, each with its own cursor. The producer waits while
// the slowest attached reader is `capacity` chunks behind, so memory stays
// at `capacity * chunk_size` bytes whatever the number of readers. A reader
// that detaches (its upload ended, or it switched to reading the file) no
// longer holds the producer back.
class ChunkRing {
 public:
  ChunkRing(std::size_t chunk_size, std::size_t capacity, std::size_t consumers);
  ChunkRing(const ChunkRing&) = delete;
  ChunkRing& operator=(const ChunkRing&) = delete;

  std::size_t chunk_size() const { return chunk_size_; }

  // Waits for a free buffer and returns it, or nullptr when every reader has
  // detached or the ring failed, since no reader would read the chunk.
  char* next_buffer();
  // Makes the first `length` bytes of the buffer from next_buffer() readable.
  void publish(std::size_t length);
  // Marks the end of the data: readers get 0 after the last chunk.
  void finish();
  // Makes every pending and later read return SIZE_MAX; the first message is kept.
  void fail(const std::string& message);
  std::string error() const;

  // Copies up to `size` bytes at reader `consumer`'s cursor into `buffer`,
  // waiting for the producer. Returns 0 at the end, SIZE_MAX on failure or
  // when the reader has detached.
  std::size_t read(std::size_t consumer, char* buffer, std::size_t size);
  void detach(std::size_t consumer);
  bool detached(std::size_t consumer) const;

  // Largest number of chunks that were buffered at once (published and not
  // yet read by every attached reader).
  std::size_t peak_buffered() const;

 private:
  std::size_t min_cursor_locked() const;

  struct Cursor {
    std::uint64_t chunk = 0;
    std::size_t offset = 0;
    bool attached = true;
  };

  const std::size_t chunk_size_;
  const std::size_t capacity_;
  std::vector<std::vector<char>> buffers_;
  std::vector<std::size_t> lengths_;
  std::vector<Cursor> cursors_;
  std::uint64_t produced_ = 0;
  bool finished_ = false;
  bool failed_ = false;
  std::string error_;
  std::size_t peak_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable space_;
  std::condition_variable data_;
};

// Reads the blob at `path` into `ring` chunk by chunk, checking its size and
// digest. The last chunk is published only after the digest matched, so no
// destination receives the whole of a corrupt blob. Fails the ring with a
// message naming the blob, the file and the fix; stops early when
// `cancelled` is set or every reader detached.
void fill_ring(ChunkRing& ring, const std::filesystem::path& path, const oci::Descriptor& blob,
               const std::atomic<bool>& cancelled);

// Failure of reading a blob straight from the layout, set by the reader.
struct FileReadState {
  std::mutex mutex;
  std::string error;
};

// Returns a body reader that streams the blob from the layout file and checks
// its size and digest; `counted` receives the byte count of every read.
http::BodyReader open_blob_file(const std::filesystem::path& path, const oci::Descriptor& blob,
                                std::shared_ptr<FileReadState> state, std::function<void(std::uint64_t)> counted);

}  // namespace multipush::push::detail
