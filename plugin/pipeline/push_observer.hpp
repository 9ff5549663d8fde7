#pragma once

#include <string>
#include <string_view>

#include "multipush/output/printer.hpp"
#include "multipush/output/progress.hpp"
#include "multipush/push/push.hpp"
#include "multipush/report/run_log.hpp"

namespace multipush::pipeline {

// Records every blob, manifest and tag of a push in the run log and passes
// blob progress to `progress`, one row per target and destination.
class PushObserver : public push::Observer {
 public:
  PushObserver(std::string target, output::Printer& printer, report::RunLog& log, output::Progress& progress)
      : target_(std::move(target)), printer_(printer), log_(log), progress_(progress) {}

  void planned(const push::Destination& destination, std::size_t blobs, std::uint64_t bytes) override;
  void sent(const push::Destination& destination, std::uint64_t bytes) override;
  void blob(const push::Destination& destination, const std::string& digest, std::uint64_t size,
            std::string_view outcome, std::uint64_t bytes_sent, double seconds, int attempts) override;
  void manifest(const push::Destination& destination, const std::string& digest, std::string_view media_type,
                bool ok) override;
  void tag(const push::Destination& destination, const std::string& tag, const std::string& digest,
           bool ok) override;

 private:
  std::string row(const push::Destination& destination) const;

  std::string target_;
  output::Printer& printer_;
  report::RunLog& log_;
  output::Progress& progress_;
};

}  // namespace multipush::pipeline
