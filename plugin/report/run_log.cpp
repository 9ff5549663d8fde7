#include "multipush/report/run_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <regex>
#include <system_error>

#include "multipush/output/redact.hpp"
#include "multipush/util/error.hpp"

namespace multipush::report {
namespace {

constexpr const char* kExtension = ".jsonl";

std::tm utc_time(std::time_t seconds) {
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return parts;
}

std::string new_run_id(std::chrono::system_clock::time_point now) {
  const std::tm parts = utc_time(std::chrono::system_clock::to_time_t(now));
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &parts);
  static std::mutex random_mutex;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard lock(random_mutex);
  const unsigned suffix = std::uniform_int_distribution<unsigned>(0, 0xffffff)(random);
  return fmt::format("{}-{:06x}", stamp, suffix);
}

// Opens a new file for writing, failing when it already exists.
std::FILE* create_exclusive(const std::filesystem::path& path) {
  return std::fopen(path.c_str(), "wx");
}

void prune(const std::filesystem::path& dir, int keep, const std::filesystem::path& current) {
  const auto runs = list_runs(dir);
  size_t kept_count = 0;
  const size_t limit = static_cast<size_t>(std::max(keep, 1));
  // The current run is kept whatever its place in the order.
  if (std::find(runs.begin(), runs.end(), current) != runs.end()) kept_count = 1;
  for (const auto& run : runs) {
    if (run == current) continue;
    if (kept_count < limit) {
      ++kept_count;
      continue;
    }
    std::error_code ignored;  // a log another process removed first is fine
    std::filesystem::remove(run, ignored);
  }
}

}  // namespace

bool is_run_id(const std::string& name) {
  static const std::regex pattern(R"(\d{8}T\d{6}Z-[0-9a-f]{6})");
  return std::regex_match(name, pattern);
}

std::string format_time(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto milliseconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::tm parts = utc_time(static_cast<std::time_t>(seconds.count()));
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:03}Z", stamp, milliseconds);
}

std::vector<std::filesystem::path> list_runs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> runs;
  std::error_code error;
  std::filesystem::directory_iterator entries(dir, error);
  if (error) return runs;
  for (const auto& entry : entries) {
    const auto& path = entry.path();
    if (path.extension() != kExtension || !entry.is_regular_file(error)) continue;
    if (!is_run_id(path.stem().string())) continue;
    runs.push_back(path);
  }
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.filename().string() > b.filename().string(); });
  return runs;
}

RunLog::RunLog(const std::filesystem::path& dir, int keep) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw UsageError(
        fmt::format("failed to create the run log directory {}: {}. Set log.dir in "
                    "multipush.yaml or --log-dir to a writable directory.",
                    dir.string(), error.message()));
  }
  // A clash needs two runs in the same second with the same 24-bit suffix;
  // a few tries make it practically impossible.
  for (int attempt = 0; attempt < 8 && file_ == nullptr; ++attempt) {
    run_id_ = new_run_id(std::chrono::system_clock::now());
    path_ = dir / (run_id_ + kExtension);
    file_ = create_exclusive(path_);
    if (file_ == nullptr && errno != EEXIST) break;
  }
  if (file_ == nullptr) {
    throw UsageError(
        fmt::format("failed to create the run log {}: {}. Set log.dir in multipush.yaml or "
                    "--log-dir to a writable directory.",
                    path_.string(), std::strerror(errno)));
  }
  prune(dir, keep, path_);
}

RunLog::~RunLog() {
  if (file_ != nullptr) std::fclose(file_);
}

const std::string& RunLog::run_id() const {
  return run_id_;
}

const std::filesystem::path& RunLog::path() const {
  return path_;
}

void RunLog::write(const std::string& event, nlohmann::json fields) {
  try {
    nlohmann::ordered_json line;
    line["time"] = format_time(std::chrono::system_clock::now());
    line["event"] = output::redact(event);
    const nlohmann::json redacted = output::redact_json(fields);
    if (redacted.is_object()) {
      for (const auto& [key, value] : redacted.items()) {
        if (key == "time" || key == "event") continue;
        line[key] = nlohmann::ordered_json(value);
      }
    } else if (!redacted.is_null()) {
      line["data"] = nlohmann::ordered_json(redacted);
    }
    // Invalid UTF-8 (from a child process, say) is replaced, not thrown.
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";

    std::lock_guard lock(mutex_);
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
      if (!write_error_) {
        write_error_ =
            fmt::format("failed to write the run log {}: {}", path_.string(), std::strerror(errno));
      }
    }
  } catch (const std::exception& error) {
    std::lock_guard lock(mutex_);
    if (!write_error_)
      write_error_ = fmt::format("failed to write the run log {}: {}", path_.string(), error.what());
  }
}

std::optional<std::string> RunLog::write_error() const {
  std::lock_guard lock(mutex_);
  return write_error_;
}

}  // namespace multipush::report
