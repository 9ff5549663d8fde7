#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "multipush/pipeline/cancel.hpp"
#include "multipush/pipeline/pipeline.hpp"
#include "multipush/util/env.hpp"
#include "multipush/version.hpp"
#include "pipeline/common.hpp"
#include "pipeline/execute.hpp"
#include "pipeline/steps.hpp"

namespace multipush::pipeline {
namespace {

nlohmann::json context_fields(const Plan& plan) {
  return {{"event", plan.context.event_name},
          {"ref", plan.context.ref},
          {"sha", plan.context.sha},
          {"repository", plan.context.repository},
          {"source", plan.context.source == context::Source::workflow ? "workflow" : "git"}};
}

void log_start(const Plan& plan, const std::string& command, report::RunLog& log) {
  std::vector<std::string> targets;
  for (const auto& target : plan.targets) targets.push_back(target.target->name);
  log.write("run_start", {{"command", command},
                          {"version", kVersion},
                          {"commit", kGitCommit},
                          {"context", context_fields(plan)},
                          {"config", plan.config.file ? plan.config.file->string() : ""},
                          {"config_digest", plan.config.digest},
                          {"targets", targets},
                          {"push", plan.push},
                          {"push_reason", plan.push_reason}});
  for (const auto& target : plan.targets) {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [key, value] : target.metadata.labels) labels[key] = value;
    log.write("tags", {{"target", target.target->name},
                       {"version", target.metadata.version},
                       {"tags", target.metadata.tags},
                       {"labels", labels},
                       {"annotations", target.metadata.annotations}});
  }
}

void log_end(const report::RunSummary& summary, report::RunLog& log) {
  nlohmann::json registries = nlohmann::json::object();
  for (const auto& outcome : summary.outcomes) {
    registries[outcome.registry][outcome.target] = {{"repository", outcome.repository},
                                                    {"status", outcome.status},
                                                    {"digest", outcome.digest},
                                                    {"error", outcome.error}};
  }
  log.write("run_end", {{"status", summary.status},
                        {"exit_code", summary.exit_code},
                        {"seconds", summary.seconds},
                        {"registries", registries}});
}

// A summary for a run stopped by an error before any target finished.
report::RunSummary failed_summary(const Plan& plan, const std::string& run_id, const Fatal& error, double seconds) {
  report::RunSummary summary;
  summary.run_id = run_id;
  summary.repository = plan.context.repository;
  summary.ref = plan.context.ref;
  summary.sha = plan.context.sha;
  summary.seconds = seconds;
  summary.exit_code = static_cast<int>(cancel_requested() ? ExitCode::interrupted : error.code());
  summary.status = cancel_requested() ? "interrupted" : "failed";
  for (const auto& target : plan.targets) {
    summary.failed_targets.push_back(target.target->name);
    for (const auto& destination : target.destinations) {
      summary.outcomes.push_back({target.target->name, destination.registry, destination.repository.repository,
                                  destination.tags, "", "failed", error.what()});
    }
  }
  return summary;
}

}  // namespace

ExitCode execute_plan(const Plan& plan, const Options& options, const std::string& command,
                      output::Printer& printer, report::RunLog& log, const ImageSource& images) {
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  log_start(plan, command, log);
  printer.info(fmt::format("Run {} (log: {})", log.run_id(), log.path().string()));
  printer.info(describe_plan(plan));

  std::vector<TargetResult> results;
  for (const auto& target : plan.targets) results.push_back({&target, std::nullopt, {}, {}});

  try {
    Clients clients;
    std::vector<std::string> refused;
    if (plan.push) {
      clients = open_clients(plan, options, &log);
      if (!options.skip_preflight) refused = preflight(plan, clients, printer, log);
    }
    auto produced = images(printer, log);
    for (size_t i = 0; i < produced.size() && i < results.size(); ++i) results[i].image = produced[i];
    bool ready = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.image.has_value(); });
    if (plan.push && ready && !cancel_requested()) {
      push_targets(clients, results, refused, printer, log);
      if (!cancel_requested()) verify_targets(clients, results, printer, log);
    }
  } catch (const Fatal& error) {
    auto summary = failed_summary(plan, log.run_id(), error, elapsed());
    report::notify(plan.config.notify, summary, log, &printer);
    log_end(summary, log);
    throw;
  }

  auto summary = summarize(plan, results, log.run_id(), elapsed());
  if (cancel_requested()) {
    // The push stopped early. Tags are written last, so no tag points to an
    // incomplete image, and the next run sends only what is missing.
    summary.status = "interrupted";
    summary.exit_code = static_cast<int>(ExitCode::interrupted);
  }
  printer.summary(report::summary_table(summary));
  write_results(plan, options, results, summary);
  report::notify(plan.config.notify, summary, log, &printer);
  log_end(summary, log);
  if (auto error = log.write_error()) {
    printer.warning(fmt::format("the run log {} is incomplete: {}", log.path().string(), *error));
  }
  return static_cast<ExitCode>(summary.exit_code);
}

ExitCode run(const Options& options) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  Plan plan = make_plan(options);
  for (const auto& warning : plan.context.warnings) printer.warning(warning);
  if (options.dry_run) {
    printer.result(describe_plan(plan));
    return ExitCode::ok;
  }

  report::RunLog log(plan.log_dir, plan.config.log.keep);
  WorkDir work_dir(log.run_id());
  auto build = [&plan, &options, &work_dir](output::Printer& out, report::RunLog& run_log) {
    try {
      return build_targets(plan, options, work_dir.path(), out, run_log);
    } catch (const Fatal& error) {
      if (error.code() != ExitCode::build_failed) throw;
      out.error("build", error.what());
      return std::vector<build::BuiltImage>{};
    }
  };

  ExitCode code = ExitCode::ok;
  try {
    code = execute_plan(plan, options, "run", printer, log, build);
  } catch (const Fatal&) {
    work_dir.keep();
    throw;
  }
  if (code != ExitCode::ok) {
    work_dir.keep();
    printer.info(fmt::format("The build output is kept in {}", work_dir.path().string()));
  }
  return code;
}

}  // namespace multipush::pipeline
