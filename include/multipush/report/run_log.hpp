#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace multipush::report {

// The JSON Lines log of one run: <dir>/<run id>.jsonl. A run id is the UTC
// start time and 6 random hex digits, "20261204T201500Z-3fa9c1", so file
// names sort by start time.
class RunLog {
 public:
  // Creates `dir` and a new log file in it, then deletes the oldest run logs
  // so that at most `keep` remain, this one included (a `keep` below 1 counts
  // as 1). Throws UsageError when the directory or file cannot be created.
  RunLog(const std::filesystem::path& dir, int keep);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  const std::string& run_id() const;
  const std::filesystem::path& path() const;

  // Appends {"time": RFC 3339 UTC with milliseconds, "event": event,
  // ...fields} as one line and flushes it. Every string in `fields` is
  // redacted, and `fields` that is not an object is stored under "data".
  // Thread-safe. Catches every error and keeps the first for write_error().
  void write(const std::string& event, nlohmann::json fields = nlohmann::json::object());

  // Returns the first write failure, if any, so the caller can warn once.
  std::optional<std::string> write_error() const;

 private:
  std::string run_id_;
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  mutable std::mutex mutex_;
  std::optional<std::string> write_error_;
};

// Returns the run log files in `dir`, newest first, or none when `dir` does
// not exist. Files whose names are not run ids are left out.
// NOTE: runs started in the same second are ordered by their random suffix.
std::vector<std::filesystem::path> list_runs(const std::filesystem::path& dir);

// Returns true when `name` has the run id form "20261204T201500Z-3fa9c1".
bool is_run_id(const std::string& name);

// Formats a time as RFC 3339 UTC with milliseconds: "2026-12-04T20:15:00.123Z".
std::string format_time(std::chrono::system_clock::time_point time);

}  // namespace multipush::report
