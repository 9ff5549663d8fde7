#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace multipush::util {

struct ProcessOptions {
  std::optional<std::string> stdin_data;         // written, then stdin is closed
  std::filesystem::path working_directory;        // empty: inherit
  std::map<std::string, std::string> extra_env;   // added to or replacing the parent's
  bool capture_stdout = true;                     // false: child writes to our stdout
  bool capture_stderr = true;                     // false: child writes to our stderr
  bool stdout_to_stderr = false;                  // with capture_stdout=false: send child stdout to our stderr
  std::chrono::milliseconds timeout{0};           // 0: no timeout; on expiry the child gets SIGTERM, then SIGKILL
};

struct ProcessResult {
  int exit_code = -1;       // exit status, or 128 + signal number
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (looked up on PATH when it has no slash) with the given
// arguments, without a shell. Returns std::nullopt when the program cannot be
// started (not found or not executable).
std::optional<ProcessResult> run_process(const std::vector<std::string>& argv,
                                         const ProcessOptions& options = {});

// Returns the full path of `program` on PATH, or std::nullopt.
std::optional<std::filesystem::path> find_program(const std::string& program);

// Sends SIGTERM to every child process started by run_process that is still
// running. Called from the signal handler thread on interruption.
void terminate_children();

}  // namespace multipush::util
