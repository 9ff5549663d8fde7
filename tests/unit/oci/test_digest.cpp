#include <doctest/doctest.h>

#include <string>

#include "multipush/oci/digest.hpp"

using multipush::oci::Sha256;
using multipush::oci::sha256_digest;

TEST_CASE("sha256 digest of known values") {
  CHECK(sha256_digest("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_digest("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The OCI empty descriptor's content is the two bytes "{}".
  CHECK(sha256_digest("{}") == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST_CASE("sha256 streamed equals one shot") {
  std::string data;
  for (int i = 0; i < 100000; ++i) {
    data.push_back(static_cast<char>(i * 7));
  }
  Sha256 hasher;
  for (size_t offset = 0; offset < data.size(); offset += 4099) {
    const size_t length = std::min<size_t>(4099, data.size() - offset);
    hasher.update(data.data() + offset, length);
  }
  CHECK(hasher.finish() == sha256_digest(data));
}

TEST_CASE("sha256 rejects use after finish") {
  Sha256 hasher;
  hasher.update("a", 1);
  CHECK(hasher.finish() == sha256_digest("a"));
  CHECK_THROWS(hasher.update("b", 1));
  CHECK_THROWS(hasher.finish());
}
