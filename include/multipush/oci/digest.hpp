#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace multipush::oci {

// Returns "sha256:" + lower-case hex of the SHA-256 of `bytes`.
std::string sha256_digest(std::string_view bytes);

// Incremental SHA-256 for streamed blobs.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  // Returns "sha256:<hex>"; the object cannot be updated afterwards.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace multipush::oci
