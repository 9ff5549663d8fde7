#include "pipeline/common.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"

namespace multipush::pipeline {

output::PrinterOptions printer_options(const Options& options) {
  output::PrinterOptions printer;
  auto mode = output::parse_mode(options.progress);
  if (!mode) throw UsageError("invalid --progress value \"" + options.progress + "\"; use auto, tty, plain, quiet or json");
  printer.mode = *mode;
  printer.github_actions = output::running_in_github_actions();
  return printer;
}

void configure_debug_log(const Options& options) {
  auto logger = spdlog::get("multipush");
  if (!logger) {
    logger = spdlog::stderr_color_mt("multipush");
    spdlog::set_default_logger(logger);
  }
  spdlog::set_level(options.debug ? spdlog::level::debug : spdlog::level::warn);
}

WorkDir::WorkDir(const std::string& run_id) {
  std::filesystem::path base = util::get_env_or("RUNNER_TEMP", std::filesystem::temp_directory_path().string());
  path_ = base / ("multipush-" + run_id);
  std::filesystem::create_directories(path_);
}

WorkDir::~WorkDir() {
  if (keep_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace multipush::pipeline
