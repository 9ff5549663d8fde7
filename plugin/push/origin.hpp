#pragma once

// Where a blob group reads its blob: the image's OCI layout, or a BlobStore
// such as the source registry of a mirror. Either way the blob is read once
// into the group's ring, and read again only for a destination whose upload
// is retried.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "multipush/oci/layout.hpp"
#include "multipush/push/push.hpp"
#include "push/ring.hpp"

namespace multipush::push::detail {

class BlobOrigin {
 public:
  virtual ~BlobOrigin() = default;

  // Returns why `blob` cannot be read at all, checked before any upload
  // starts, or an empty string.
  virtual std::string check(const oci::Descriptor& blob) = 0;
  // Reads `blob` once into `ring` and checks its size and digest. The last
  // chunk is published only after the digest matched. Fails the ring with
  // a message naming the blob.
  virtual void fill(ChunkRing& ring, const oci::Descriptor& blob, const std::atomic<bool>& cancelled) = 0;
  // Opens a separate reader of `blob` for one destination. A read failure
  // that no retry can fix is stored in `state`; `counted` receives the byte
  // count of every read.
  virtual http::BodyReader open(const oci::Descriptor& blob, std::shared_ptr<FileReadState> state,
                                std::function<void(std::uint64_t)> counted) = 0;
};

// Reads blobs from the files of the image's layout directory.
class LayoutOrigin final : public BlobOrigin {
 public:
  explicit LayoutOrigin(const oci::Image& image) : image_(image) {}

  std::string check(const oci::Descriptor& blob) override;
  void fill(ChunkRing& ring, const oci::Descriptor& blob, const std::atomic<bool>& cancelled) override;
  http::BodyReader open(const oci::Descriptor& blob, std::shared_ptr<FileReadState> state,
                        std::function<void(std::uint64_t)> counted) override;

 private:
  const oci::Image& image_;
};

// Reads blobs from a BlobStore. A reader from open() runs its own read of
// the store on a thread that fills a private ring of `ring_chunks` chunks.
class StoreOrigin final : public BlobOrigin {
 public:
  StoreOrigin(BlobStore& store, std::size_t chunk_size, std::size_t ring_chunks, const std::atomic<bool>& cancelled)
      : store_(store), chunk_size_(chunk_size), ring_chunks_(ring_chunks), cancelled_(cancelled) {}

  std::string check(const oci::Descriptor&) override { return {}; }
  void fill(ChunkRing& ring, const oci::Descriptor& blob, const std::atomic<bool>& cancelled) override;
  http::BodyReader open(const oci::Descriptor& blob, std::shared_ptr<FileReadState> state,
                        std::function<void(std::uint64_t)> counted) override;

 private:
  BlobStore& store_;
  const std::size_t chunk_size_;
  const std::size_t ring_chunks_;
  const std::atomic<bool>& cancelled_;
};

// Reads `blob` from `store` into `ring` with the contract of BlobOrigin::fill.
void fill_ring_from_store(ChunkRing& ring, BlobStore& store, const oci::Descriptor& blob,
                          const std::atomic<bool>& cancelled);

}  // namespace multipush::push::detail
