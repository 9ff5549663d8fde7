// Feeds arbitrary WWW-Authenticate header values to the challenge parser and
// the scope parser. Any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "multipush/auth/challenge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  for (const auto& challenge : multipush::auth::parse_challenges(header)) {
    (void)multipush::auth::parse_scopes(challenge.param("scope"));
    (void)challenge.param("realm");
  }
  (void)multipush::auth::parse_scope(header);
  return 0;
}
