#pragma once

#include <stdexcept>
#include <string>

namespace multipush {

// Process exit codes; the table in README.md and `--help` lists the same.
enum class ExitCode : int {
  ok = 0,
  internal = 1,
  usage = 2,          // usage or configuration error, invalid tag, bad input
  build_failed = 3,
  partial = 4,        // pushed to some registries, failed on others
  nothing_pushed = 5, // every registry failed or rejected the credentials
  verify_failed = 6,  // a registry serves a different digest than was pushed
  interrupted = 130,
};

// An error that ends the run. Thrown by any layer, caught once in main(),
// which prints the message and exits with `code`. Failures that callers are
// expected to handle (404 on HEAD, a 401 challenge, a retryable 5xx) are
// returned as std::expected values instead.
class Fatal : public std::runtime_error {
 public:
  Fatal(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// A usage or configuration error (exit code 2).
class UsageError : public Fatal {
 public:
  explicit UsageError(const std::string& message) : Fatal(ExitCode::usage, message) {}
};

}  // namespace multipush
