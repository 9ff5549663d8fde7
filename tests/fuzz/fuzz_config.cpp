// Feeds arbitrary text to the multipush.yaml loader. A configuration error
// (multipush::Fatal) is the expected answer to invalid input; any other
// exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "multipush/config/config.hpp"
#include "multipush/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = multipush::config::parse_config(text, "/nonexistent/multipush.yaml");
    for (const auto& target : config.targets) (void)multipush::config::destinations(config, target);
  } catch (const multipush::Fatal&) {
  }
  return 0;
}
