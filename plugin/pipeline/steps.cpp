#include "pipeline/steps.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "multipush/oci/layout.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"
#include "pipeline/push_observer.hpp"

namespace multipush::pipeline {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string short_digest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(0, colon + 13);
}

}  // namespace

build::Request build_request(const Plan& plan, const Options& options, const std::filesystem::path& work_dir) {
  build::Request request;
  request.build = plan.config.build;
  request.docker_global_args = options.docker.args;
  request.docker_command = util::get_env_or("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND", "docker");
  request.work_dir = work_dir;
  request.github_actions = plan.context.github_actions;
  request.source_date_epoch = plan.context.source_date_epoch;
  for (const auto& target : plan.targets) {
    build::TargetSpec spec;
    spec.target = target.target;
    spec.tags = target.metadata.tags;
    spec.labels = target.metadata.labels;
    spec.annotations = target.metadata.annotations;
    request.targets.push_back(std::move(spec));
  }
  return request;
}

namespace {

// The push check of one repository, run by the thread of its registry.
struct PushCheck {
  const DestinationPlan* destination = nullptr;
  registry::Result<void> access;
  double seconds = 0;
};

// Checks each repository of one registry in turn and stops at the first
// failure, because one failure leaves the registry out of the whole push.
std::vector<PushCheck> check_registry(registry::RegistryClient& client,
                                      const std::vector<const DestinationPlan*>& destinations) {
  std::vector<PushCheck> checks;
  for (const DestinationPlan* destination : destinations) {
    auto started = std::chrono::steady_clock::now();
    // Starts an upload session and cancels it, so the check needs the push
    // right itself rather than a token that merely names it.
    auto access = client.check_push_access(destination->repository.repository);
    checks.push_back({destination, std::move(access), seconds_since(started)});
    if (!checks.back().access) break;
  }
  return checks;
}

}  // namespace

std::vector<std::string> preflight(const Plan& plan, Clients& clients, output::Printer& printer,
                                   report::RunLog& log) {
  std::vector<std::string> refused;
  if (plan.config.push.preflight == config::Preflight::off) return refused;
  printer.step("Checking credentials");

  // Each repository once, grouped by registry, in the order of the plan.
  std::vector<std::string> registries;
  std::map<std::string, std::vector<const DestinationPlan*>> destinations_of;
  std::set<std::string> planned;
  for (const auto& target : plan.targets) {
    for (const auto& destination : target.destinations) {
      if (!planned.insert(destination.repository.name()).second) continue;
      auto& list = destinations_of[destination.registry];
      if (list.empty()) registries.push_back(destination.registry);
      list.push_back(&destination);
    }
  }

  // One thread per registry, so an unreachable registry delays the check by
  // its own timeout only. Each client is used by one thread alone. The
  // messages and the preflight events are written afterwards from this
  // thread, so their order does not depend on which registry responds first.
  std::vector<std::future<std::vector<PushCheck>>> pending;
  for (const auto& registry : registries) {
    registry::RegistryClient& client = *clients.at(registry);
    pending.push_back(std::async(std::launch::async, check_registry, std::ref(client),
                                 std::cref(destinations_of.at(registry))));
  }
  std::map<const DestinationPlan*, PushCheck> results;
  for (auto& future : pending) {
    for (auto& check : future.get()) results.emplace(check.destination, std::move(check));
  }

  // Output in the order of the plan, as a check of one repository after
  // another would print it.
  for (const auto& target : plan.targets) {
    for (const auto& destination : target.destinations) {
      auto found = results.find(&destination);
      if (found == results.end()) continue;
      const PushCheck& check = found->second;
      const auto& access = check.access;
      log.write("preflight", {{"registry", destination.registry},
                              {"repository", destination.repository.repository},
                              {"right", "push"},
                              {"ok", access.has_value()},
                              {"seconds", check.seconds},
                              {"error", access ? "" : access.error().str()}});
      if (access) {
        printer.info(fmt::format("  {}: push allowed", destination.repository.name()));
        continue;
      }
      // A registry that rejects the credentials or cannot be reached is left
      // out of the push, so the build does not wait for it.
      refused.push_back(destination.registry);
      std::string problem = access.error().unauthorized ? "push (write) access is denied"
                                                         : "the push check failed";
      printer.error(destination.registry,
                    fmt::format("registry {}, repository {}: {}: {}", destination.registry,
                                destination.repository.repository, problem, access.error().str()));
    }
  }
  printer.end_step();
  if (refused.empty()) return refused;
  if (plan.config.push.preflight == config::Preflight::strict) {
    throw Fatal(ExitCode::nothing_pushed,
                fmt::format("the preflight check failed for {}; nothing was built (push.preflight: strict). Fix "
                            "the credentials or permissions, or run with --skip-preflight",
                            fmt::join(refused, ", ")));
  }
  if (refused.size() == clients.size()) {
    throw Fatal(ExitCode::nothing_pushed,
                fmt::format("no registry accepts a push ({}); nothing was built. Log in with "
                            "`docker login HOST`, set username and password in the config, or grant push access",
                            fmt::join(refused, ", ")));
  }
  printer.warning(fmt::format("continuing without {} (push.preflight: warn); the run will end as a partial failure",
                              fmt::join(refused, ", ")));
  return refused;
}

std::vector<build::BuiltImage> build_targets(const Plan& plan, const Options& options,
                                             const std::filesystem::path& work_dir, output::Printer& printer,
                                             report::RunLog& log) {
  printer.step("Building");
  auto start = std::chrono::steady_clock::now();
  build::Request request = build_request(plan, options, work_dir);
  std::vector<build::BuiltImage> images;
  try {
    images = build::build(request);
  } catch (const Fatal& error) {
    log.write("build", {{"status", "failed"}, {"error", error.what()}, {"seconds", seconds_since(start)}});
    printer.end_step();
    throw;
  }
  for (const auto& image : images) {
    log.write("build", {{"target", image.target},
                        {"status", "built"},
                        {"digest", image.digest},
                        {"layout", image.layout.string()},
                        {"seconds", seconds_since(start)}});
    printer.info(fmt::format("  {}: {}", image.target, image.digest));
  }
  printer.end_step();
  return images;
}

void push_targets(Clients& clients, std::vector<TargetResult>& results,
                  const std::vector<std::string>& refused, output::Printer& printer, report::RunLog& log) {
  printer.step("Pushing");
  output::Progress progress(printer);
  for (auto& result : results) {
    if (!result.image) continue;
    const TargetPlan& target = *result.plan;
    auto image = oci::load_image(result.image->layout, oci::ImageSelector{result.image->digest, ""});
    if (!image) {
      throw Fatal(ExitCode::build_failed,
                  fmt::format("target \"{}\": cannot read the built image: {}", target.target->name, image.error()));
    }
    std::vector<push::Destination> destinations;
    for (const auto& planned : target.destinations) {
      if (std::find(refused.begin(), refused.end(), planned.registry) != refused.end()) {
        push::DestinationResult skipped;
        skipped.destination.registry = planned.registry;
        skipped.destination.repository = planned.repository.repository;
        skipped.destination.tags = planned.tags;
        skipped.error = "credentials rejected before the build";
        skipped.unauthorized = true;
        result.pushes.push_back(std::move(skipped));
        continue;
      }
      push::Destination destination;
      destination.registry = planned.registry;
      destination.repository = planned.repository.repository;
      destination.tags = planned.tags;
      destination.client = clients.at(planned.registry).get();
      destination.drop_attestations = planned.drop_attestations;
      destinations.push_back(std::move(destination));
    }
    PushObserver observer(target.target->name, printer, log, progress);
    auto pushed = push::push_image(*image, destinations, observer, cancel_flag());
    for (auto& destination_result : pushed) {
      if (!destination_result.ok) {
        printer.error(destination_result.destination.registry,
                      fmt::format("{}: push of {} failed: {}", destination_result.destination.registry,
                                  target.target->name, destination_result.error));
      }
      if (!destination_result.note.empty()) {
        log.write("digest_note", {{"target", target.target->name},
                                  {"registry", destination_result.destination.registry},
                                  {"repository", destination_result.destination.repository},
                                  {"digest", destination_result.digest},
                                  {"note", destination_result.note}});
        printer.info(fmt::format("  {}/{}: {}", destination_result.destination.registry,
                                 destination_result.destination.repository, destination_result.note));
      }
      result.pushes.push_back(std::move(destination_result));
    }
  }
  progress.stop();
  printer.end_step();
}

void verify_targets(Clients& clients, std::vector<TargetResult>& results, output::Printer& printer,
                    report::RunLog& log) {
  printer.step("Verifying");
  for (auto& result : results) {
    for (const auto& pushed : result.pushes) {
      if (!pushed.ok) continue;
      std::vector<std::string> references = pushed.tags;
      if (references.empty()) references.push_back(pushed.digest);
      auto checks = verify::verify_destination(*clients.at(pushed.destination.registry),
                                               pushed.destination.repository, references, pushed.digest);
      bool all_ok = true;
      for (auto& check : checks) {
        all_ok = all_ok && check.ok;
        log.write("verify", {{"target", result.plan->target->name},
                             {"registry", check.registry},
                             {"repository", check.repository},
                             {"tag", check.tag},
                             {"expected", check.expected_digest},
                             {"actual", check.actual_digest},
                             {"platforms", check.platforms},
                             {"ok", check.ok}});
        if (!check.ok) {
          printer.error(check.registry, fmt::format("{}/{}:{} serves {} instead of {}{}", check.registry,
                                                    check.repository, check.tag, check.actual_digest,
                                                    check.expected_digest,
                                                    check.error.empty() ? "" : ": " + check.error));
        }
        result.checks.push_back(std::move(check));
      }
      if (all_ok) printer.info(fmt::format("  {}/{}: {} tag(s) resolve to {}", pushed.destination.registry,
                               pushed.destination.repository, references.size(), short_digest(pushed.digest)));
    }
  }
  printer.end_step();
}

}  // namespace multipush::pipeline
