// Feeds arbitrary text to the image reference parser and the host and tag
// validators. Any crash, sanitizer report or broken round trip is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "multipush/ref/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool lower_case : {false, true}) {
    auto reference = multipush::ref::parse(text, lower_case);
    if (!reference) continue;
    // A parsed reference must parse again from its canonical name.
    auto again = multipush::ref::parse(reference->name(), lower_case);
    if (!again) std::abort();
  }
  (void)multipush::ref::is_valid_tag(text);
  (void)multipush::ref::is_valid_digest(text);
  (void)multipush::ref::is_valid_registry_host(text);
  (void)multipush::ref::is_valid_repository(text);
  (void)multipush::ref::normalize_registry_host(text);
  (void)multipush::ref::api_host_for_host(text);
  return 0;
}
