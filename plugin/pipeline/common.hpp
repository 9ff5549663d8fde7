#pragma once

#include <filesystem>
#include <string>

#include "multipush/output/printer.hpp"
#include "multipush/pipeline/options.hpp"

namespace multipush::pipeline {

// Printer settings from --progress and the environment.
output::PrinterOptions printer_options(const Options& options);

// Sends the debug log to stderr when --debug (or docker's -D) is given, and
// silences it otherwise.
void configure_debug_log(const Options& options);

// A fresh directory for one run's bake file, metadata and OCI layouts,
// under $RUNNER_TEMP or the system temp directory. Removed on destruction
// unless keep() was called.
class WorkDir {
 public:
  explicit WorkDir(const std::string& run_id);
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace multipush::pipeline
