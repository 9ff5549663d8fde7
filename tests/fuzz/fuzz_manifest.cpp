// Feeds arbitrary bytes to the OCI and Docker manifest and index parsers.
// Any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "multipush/oci/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)multipush::oci::detect_media_type(bytes);
  (void)multipush::oci::parse_manifest(bytes);
  (void)multipush::oci::parse_index(bytes);
  return 0;
}
