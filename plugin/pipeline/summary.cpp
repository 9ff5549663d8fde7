#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"
#include "pipeline/steps.hpp"

namespace multipush::pipeline {
namespace {

bool verified(const TargetResult& result, const push::DestinationResult& pushed, bool& mismatch) {
  bool any = false;
  for (const auto& check : result.checks) {
    if (check.registry != pushed.destination.registry || check.repository != pushed.destination.repository) continue;
    any = true;
    if (!check.ok) mismatch = true;
  }
  return any && !mismatch;
}

std::string run_url() {
  auto server = util::get_env("GITHUB_SERVER_URL");
  auto repository = util::get_env("GITHUB_REPOSITORY");
  auto run_id = util::get_env("GITHUB_RUN_ID");
  if (!server || !repository || !run_id) return "";
  return fmt::format("{}/{}/actions/runs/{}", *server, *repository, *run_id);
}

}  // namespace

report::RunSummary summarize(const Plan& plan, const std::vector<TargetResult>& results,
                             const std::string& run_id, double seconds) {
  report::RunSummary summary;
  summary.run_id = run_id;
  summary.repository = plan.context.repository;
  summary.ref = plan.context.ref;
  summary.sha = plan.context.sha;
  summary.run_url = run_url();
  summary.seconds = seconds;

  int ok = 0;
  int failed = 0;
  bool mismatch = false;
  bool build_failed = false;
  std::set<std::string> failed_targets;
  std::set<std::string> failed_registries;
  for (const auto& result : results) {
    const std::string& target = result.plan->target->name;
    if (!result.image) {
      build_failed = true;
      failed_targets.insert(target);
      for (const auto& destination : result.plan->destinations) {
        summary.outcomes.push_back({target, destination.registry, destination.repository.repository,
                                    destination.tags, "", plan.push ? "build failed" : "not pushed", ""});
      }
      continue;
    }
    if (!plan.push) {
      for (const auto& destination : result.plan->destinations) {
        summary.outcomes.push_back({target, destination.registry, destination.repository.repository,
                                    destination.tags, result.image->digest, "not pushed", plan.push_reason});
      }
      continue;
    }
    for (const auto& pushed : result.pushes) {
      report::Outcome outcome{target, pushed.destination.registry, pushed.destination.repository,
                              pushed.destination.tags, pushed.digest, "", pushed.error, pushed.note};
      if (!pushed.ok) {
        ++failed;
        outcome.status = "failed";
        failed_targets.insert(target);
        failed_registries.insert(pushed.destination.registry);
      } else {
        ++ok;
        bool target_mismatch = false;
        bool checked = verified(result, pushed, target_mismatch);
        if (target_mismatch) {
          outcome.status = "digest mismatch";
        } else {
          outcome.status = checked ? "verified" : "pushed";
        }
        if (target_mismatch) {
          mismatch = true;
          failed_registries.insert(pushed.destination.registry);
        }
      }
      summary.outcomes.push_back(std::move(outcome));
    }
  }
  summary.failed_targets.assign(failed_targets.begin(), failed_targets.end());
  summary.failed_registries.assign(failed_registries.begin(), failed_registries.end());

  ExitCode code = ExitCode::ok;
  if (build_failed) {
    code = ExitCode::build_failed;
  } else if (mismatch) {
    code = ExitCode::verify_failed;
  } else if (failed > 0) {
    code = ok > 0 ? ExitCode::partial : ExitCode::nothing_pushed;
  }
  summary.exit_code = static_cast<int>(code);
  switch (code) {
    case ExitCode::ok: summary.status = "success"; break;
    case ExitCode::partial: summary.status = "partial"; break;
    case ExitCode::build_failed: summary.status = "build failed"; break;
    case ExitCode::verify_failed: summary.status = "verification failed"; break;
    default: summary.status = "failed"; break;
  }
  return summary;
}

void write_results(const Plan& plan, const Options& options, const std::vector<TargetResult>& results,
                   const report::RunSummary& summary) {
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const auto& result : results) {
    const std::string& name = result.plan->target->name;
    nlohmann::json entry = nlohmann::json::object();
    entry["digest"] = result.image ? result.image->digest : "";
    entry["platforms"] = result.plan->target->platforms;
    nlohmann::json registries = nlohmann::json::object();
    for (const auto& outcome : summary.outcomes) {
      if (outcome.target != name) continue;
      std::string key = registries.contains(outcome.registry) ? outcome.registry + "/" + outcome.repository
                                                               : outcome.registry;
      registries[key] = {{"repository", outcome.repository},
                         {"tags", outcome.tags},
                         {"status", outcome.status},
                         {"digest", outcome.digest}};
      if (!outcome.note.empty()) registries[key]["note"] = outcome.note;
    }
    entry["registries"] = registries;
    metadata[name] = entry;
    outputs.emplace_back(name + "-digest", result.image ? result.image->digest : "");
    std::string tags;
    for (const auto& tag : result.plan->metadata.tags) tags += tag + "\n";
    if (!tags.empty()) tags.pop_back();
    outputs.emplace_back(name + "-tags", tags);
  }
  if (options.metadata_file) report::write_metadata_file(*options.metadata_file, metadata);
  if (plan.context.github_actions) {
    outputs.insert(outputs.begin(), {"metadata", metadata.dump()});
    report::write_github_outputs(outputs);
    report::append_step_summary(report::summary_markdown(summary));
  }
}

}  // namespace multipush::pipeline
