// Feeds arbitrary bytes to the GitHub Actions event payload reader
// (GITHUB_EVENT_PATH) under several event names. A UsageError is the
// expected answer to invalid input; any other exception, crash or sanitizer
// report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "multipush/context/context.hpp"
#include "multipush/util/error.hpp"

namespace {

constexpr const char* kEventNames[] = {"push", "pull_request", "pull_request_target", "workflow_run",
                                       "merge_group", "release", "schedule", "workflow_dispatch"};

const std::string& payload_path() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("multipush-fuzz-event-" + std::to_string(getpid()) + ".json"))
          .string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("GITHUB_EVENT_PATH", payload_path().c_str(), 1);
  setenv("GITHUB_REF", "refs/heads/main", 1);
  setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567", 1);
  setenv("GITHUB_REPOSITORY", "acme/app", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte picks the event name, the rest is the payload.
  std::size_t choice = size > 0 ? data[0] % std::size(kEventNames) : 0;
  setenv("GITHUB_EVENT_NAME", kEventNames[choice], 1);
  {
    std::ofstream file(payload_path(), std::ios::binary | std::ios::trunc);
    if (size > 0) file.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    auto context = multipush::context::from_workflow();
    (void)multipush::context::is_pull_request_like(context);
  } catch (const multipush::Fatal&) {
  }
  return 0;
}
