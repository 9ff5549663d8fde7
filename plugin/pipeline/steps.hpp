#pragma once

// The steps of a run after planning. Each takes what the previous steps
// produced and returns what the next ones need, and pipeline::run() calls
// them in order.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "multipush/build/build.hpp"
#include "multipush/output/printer.hpp"
#include "multipush/push/push.hpp"
#include "multipush/registry/client.hpp"
#include "multipush/report/github.hpp"
#include "multipush/report/notify.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/report/summary.hpp"
#include "multipush/verify/verify.hpp"
#include "pipeline/plan.hpp"

namespace multipush::pipeline {

// One client per registry host, with the credentials that apply to it.
using Clients = std::map<std::string, std::unique_ptr<registry::RegistryClient>>;

struct TargetResult {
  const TargetPlan* plan = nullptr;
  std::optional<build::BuiltImage> image;
  std::vector<push::DestinationResult> pushes;
  std::vector<verify::Check> checks;
};

// Resolves credentials for every registry in the plan and opens a client per
// host. With a run log, every retry is written to it with its reason.
Clients open_clients(const Plan& plan, const Options& options, report::RunLog* log = nullptr);

// Checks before building that every registry accepts a push to each planned
// repository. Returns the registries that rejected it or could not be
// reached. Throws Fatal(nothing_pushed) when every registry failed, or any
// did under `preflight: strict`.
std::vector<std::string> preflight(const Plan& plan, Clients& clients, output::Printer& printer,
                                   report::RunLog& log);

// Describes the build of every target of the plan, with its layouts under `work_dir`.
build::Request build_request(const Plan& plan, const Options& options, const std::filesystem::path& work_dir);

// Builds every target of the plan into OCI layouts under `work_dir`.
std::vector<build::BuiltImage> build_targets(const Plan& plan, const Options& options,
                                             const std::filesystem::path& work_dir, output::Printer& printer,
                                             report::RunLog& log);

// Pushes each built image to its destinations, skipping `refused` registries.
void push_targets(Clients& clients, std::vector<TargetResult>& results,
                  const std::vector<std::string>& refused, output::Printer& printer, report::RunLog& log);

// Reads every pushed tag back and compares digests.
void verify_targets(Clients& clients, std::vector<TargetResult>& results, output::Printer& printer,
                    report::RunLog& log);

// Builds the summary from the results and picks the exit code.
report::RunSummary summarize(const Plan& plan, const std::vector<TargetResult>& results,
                             const std::string& run_id, double seconds);

// The --metadata-file JSON and GitHub outputs.
void write_results(const Plan& plan, const Options& options, const std::vector<TargetResult>& results,
                   const report::RunSummary& summary);

}  // namespace multipush::pipeline
