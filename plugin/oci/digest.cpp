#include "multipush/oci/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace multipush::oci {

namespace {

std::string to_hex_digest(const unsigned char* hash, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digest = "sha256:";
  digest.reserve(digest.size() + 2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    digest.push_back(kHex[hash[i] >> 4]);
    digest.push_back(kHex[hash[i] & 0x0f]);
  }
  return digest;
}

}  // namespace

struct Sha256::Impl {
  EVP_MD_CTX* context = nullptr;
  bool finished = false;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->context = EVP_MD_CTX_new();
  if (impl_->context == nullptr || EVP_DigestInit_ex(impl_->context, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(impl_->context);
    throw std::runtime_error("OpenSSL failed to initialise a SHA-256 context");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->context); }

void Sha256::update(const void* data, size_t size) {
  if (impl_->finished) {
    throw std::logic_error("Sha256::update called after finish()");
  }
  if (size != 0 && EVP_DigestUpdate(impl_->context, data, size) != 1) {
    throw std::runtime_error("OpenSSL failed to update a SHA-256 digest");
  }
}

std::string Sha256::finish() {
  if (impl_->finished) {
    throw std::logic_error("Sha256::finish called twice");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(impl_->context, hash.data(), &length) != 1) {
    throw std::runtime_error("OpenSSL failed to finish a SHA-256 digest");
  }
  impl_->finished = true;
  return to_hex_digest(hash.data(), length);
}

std::string sha256_digest(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes.data(), bytes.size());
  return hasher.finish();
}

}  // namespace multipush::oci
