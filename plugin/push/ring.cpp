#include "push/ring.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "multipush/oci/digest.hpp"

namespace multipush::push::detail {

ChunkRing::ChunkRing(std::size_t chunk_size, std::size_t capacity, std::size_t consumers)
    : chunk_size_(std::max<std::size_t>(chunk_size, 1)),
      capacity_(std::max<std::size_t>(capacity, 1)),
      buffers_(capacity_),
      lengths_(capacity_, 0),
      cursors_(consumers) {}

std::size_t ChunkRing::min_cursor_locked() const {
  std::uint64_t lowest = produced_;
  for (const auto& cursor : cursors_) {
    if (cursor.attached) {
      lowest = std::min(lowest, cursor.chunk);
    }
  }
  return static_cast<std::size_t>(produced_ - lowest);
}

char* ChunkRing::next_buffer() {
  std::unique_lock lock(mutex_);
  const auto any_attached = [this] {
    return std::any_of(cursors_.begin(), cursors_.end(), [](const Cursor& cursor) { return cursor.attached; });
  };
  space_.wait(lock, [&] { return failed_ || !any_attached() || min_cursor_locked() < capacity_; });
  if (failed_ || !any_attached()) {
    return nullptr;
  }
  auto& buffer = buffers_[produced_ % capacity_];
  // Buffers are allocated on first use, so a small blob costs one chunk.
  if (buffer.size() != chunk_size_) {
    buffer.resize(chunk_size_);
  }
  return buffer.data();
}

void ChunkRing::publish(std::size_t length) {
  {
    std::lock_guard lock(mutex_);
    lengths_[produced_ % capacity_] = length;
    ++produced_;
    peak_ = std::max(peak_, min_cursor_locked());
  }
  data_.notify_all();
}

void ChunkRing::finish() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  data_.notify_all();
}

void ChunkRing::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!failed_) {
      error_ = message;
    }
    failed_ = true;
  }
  data_.notify_all();
  space_.notify_all();
}

std::string ChunkRing::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::size_t ChunkRing::read(std::size_t consumer, char* buffer, std::size_t size) {
  std::unique_lock lock(mutex_);
  Cursor& cursor = cursors_.at(consumer);
  data_.wait(lock, [&] { return failed_ || !cursor.attached || cursor.chunk < produced_ || finished_; });
  if (failed_ || !cursor.attached) {
    return SIZE_MAX;
  }
  if (cursor.chunk == produced_) {
    return 0;  // finished, and this reader has read everything
  }
  const std::size_t slot = cursor.chunk % capacity_;
  const std::size_t count = std::min(size, lengths_[slot] - cursor.offset);
  const char* source = buffers_[slot].data() + cursor.offset;
  // The producer does not reuse this slot while this reader's cursor is on
  // it, so the copy can run without the lock.
  lock.unlock();
  std::memcpy(buffer, source, count);
  lock.lock();
  cursor.offset += count;
  if (cursor.offset == lengths_[slot]) {
    ++cursor.chunk;
    cursor.offset = 0;
    lock.unlock();
    space_.notify_all();
  }
  return count;
}

void ChunkRing::detach(std::size_t consumer) {
  {
    std::lock_guard lock(mutex_);
    cursors_.at(consumer).attached = false;
  }
  space_.notify_all();
  data_.notify_all();
}

bool ChunkRing::detached(std::size_t consumer) const {
  std::lock_guard lock(mutex_);
  return !cursors_.at(consumer).attached;
}

std::size_t ChunkRing::peak_buffered() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

namespace {

std::string corrupt_message(const oci::Descriptor& blob, const std::filesystem::path& path, const std::string& what) {
  return "blob " + blob.digest + " at " + path.string() + " " + what +
         "; rebuild the image into a fresh layout directory";
}

}  // namespace

void fill_ring(ChunkRing& ring, const std::filesystem::path& path, const oci::Descriptor& blob,
               const std::atomic<bool>& cancelled) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ring.fail("blob " + blob.digest + " is missing from the OCI layout: " + path.string());
    return;
  }
  oci::Sha256 hasher;
  std::uint64_t remaining = blob.size;
  while (remaining > 0) {
    if (cancelled.load()) {
      ring.fail("interrupted while reading blob " + blob.digest);
      return;
    }
    char* buffer = ring.next_buffer();
    if (buffer == nullptr) {
      return;  // every destination detached or the ring failed
    }
    const auto wanted = static_cast<std::streamsize>(std::min<std::uint64_t>(ring.chunk_size(), remaining));
    file.read(buffer, wanted);
    const auto count = file.gcount();
    if (count < wanted) {
      ring.fail(corrupt_message(blob, path, "is shorter than its descriptor size of " + std::to_string(blob.size) +
                                                " bytes"));
      return;
    }
    hasher.update(buffer, static_cast<std::size_t>(count));
    remaining -= static_cast<std::uint64_t>(count);
    if (remaining == 0) {
      const std::string actual = hasher.finish();
      if (actual != blob.digest) {
        ring.fail(corrupt_message(blob, path, "is corrupt: its content has digest " + actual));
        return;
      }
    }
    ring.publish(static_cast<std::size_t>(count));
  }
  if (blob.size == 0 && oci::sha256_digest("") != blob.digest) {
    ring.fail(corrupt_message(blob, path, "is empty but its digest is not that of empty content"));
    return;
  }
  ring.finish();
}

http::BodyReader open_blob_file(const std::filesystem::path& path, const oci::Descriptor& blob,
                                std::shared_ptr<FileReadState> state, std::function<void(std::uint64_t)> counted) {
  auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*file) {
    std::lock_guard lock(state->mutex);
    state->error = "blob " + blob.digest + " is missing from the OCI layout: " + path.string();
    return [](char*, std::size_t) -> std::size_t { return SIZE_MAX; };
  }
  auto hasher = std::make_shared<oci::Sha256>();
  auto remaining = std::make_shared<std::uint64_t>(blob.size);
  // The digest is checked in the read that delivers the last byte, because
  // libcurl stops reading once the announced size is sent.
  return [file, hasher, remaining, path, blob, state, counted](char* buffer, std::size_t size) -> std::size_t {
    if (*remaining == 0) {
      return 0;
    }
    const auto wanted = static_cast<std::streamsize>(std::min<std::uint64_t>(size, *remaining));
    file->read(buffer, wanted);
    const auto count = file->gcount();
    if (count < wanted) {
      std::lock_guard lock(state->mutex);
      state->error = corrupt_message(blob, path, "is shorter than its descriptor size of " +
                                                     std::to_string(blob.size) + " bytes");
      return SIZE_MAX;
    }
    hasher->update(buffer, static_cast<std::size_t>(count));
    *remaining -= static_cast<std::uint64_t>(count);
    if (*remaining == 0) {
      const std::string actual = hasher->finish();
      if (actual != blob.digest) {
        std::lock_guard lock(state->mutex);
        state->error = corrupt_message(blob, path, "is corrupt: its content has digest " + actual);
        return SIZE_MAX;
      }
    }
    if (counted) {
      counted(static_cast<std::uint64_t>(count));
    }
    return static_cast<std::size_t>(count);
  };
}

}  // namespace multipush::push::detail
