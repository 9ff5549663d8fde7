#include "multipush/report/github.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "multipush/output/redact.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"

namespace multipush::report {
namespace {

// The runner drops a step summary larger than this.
constexpr size_t kStepSummaryLimit = 1024 * 1024;

std::string random_hex(size_t digits) {
  static std::mutex random_mutex;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard lock(random_mutex);
  std::string text;
  while (text.size() < digits) text += fmt::format("{:016x}", random());
  return text.substr(0, digits);
}

void append_to_file(const std::string& variable, const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::app);
  if (file) file << text;
  if (file) file.flush();
  if (!file) {
    throw Fatal(ExitCode::internal, fmt::format("failed to append to the {} file {}: {}. Check that the "
                                                "path in {} is writable.",
                                                variable, path, std::strerror(errno), variable));
  }
}

void check_output_name(const std::string& name) {
  if (name.empty() || name.find("<<") != std::string::npos || name.find('=') != std::string::npos ||
      name.find_first_of("\r\n") != std::string::npos) {
    throw Fatal(ExitCode::internal, fmt::format("invalid GitHub output name \"{}\": use a non-empty name "
                                                "without \"<<\", \"=\" or a line break",
                                                name));
  }
}

}  // namespace

void write_metadata_file(const std::filesystem::path& path, const nlohmann::json& metadata) {
  const std::string text = metadata.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  const auto temporary = std::filesystem::path(path).concat(".tmp-" + random_hex(8));
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (file) file << text;
    if (file) file.flush();
    if (!file) {
      const int saved_errno = errno;
      std::filesystem::remove(temporary, error);
      throw UsageError(
          fmt::format("failed to write the metadata file {}: {}. Pass a writable path "
                      "to --metadata-file.",
                      path.string(), std::strerror(saved_errno)));
    }
  }
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw UsageError(
        fmt::format("failed to write the metadata file {}: {}. Pass a writable path "
                    "to --metadata-file.",
                    path.string(), error.message()));
  }
}

void write_github_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  const auto path = util::get_env("GITHUB_OUTPUT");
  if (!path || path->empty()) return;

  std::string text;
  for (const auto& [name, raw_value] : outputs) {
    check_output_name(name);
    const std::string value = output::redact(raw_value);
    // A delimiter found in the value would end it early, so draw another.
    std::string delimiter;
    do {
      delimiter = "ghadelimiter_" + random_hex(32);
    } while (value.find(delimiter) != std::string::npos);
    text += name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n";
  }
  append_to_file("GITHUB_OUTPUT", *path, text);
}

void append_step_summary(const std::string& markdown) {
  const auto path = util::get_env("GITHUB_STEP_SUMMARY");
  if (!path || path->empty()) return;

  std::string text = output::redact(markdown);
  if (text.size() > kStepSummaryLimit) {
    const std::string note =
        "\n\n_The summary was cut at 1 MiB, the GitHub Actions limit; the run log has "
        "every result._\n";
    text.resize(kStepSummaryLimit - note.size());
    text += note;
  }
  if (text.empty() || text.back() != '\n') text += '\n';
  append_to_file("GITHUB_STEP_SUMMARY", *path, text);
}

}  // namespace multipush::report
