#include "pipeline/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "multipush/util/error.hpp"

namespace multipush::pipeline {
namespace {

config::Config load_config(const Options& options) {
  auto file = config::find_config(options.file, options.cwd);
  if (!file) return config::config_from_overrides(options.overrides, options.cwd);
  config::Config loaded = config::load_config(*file);
  config::apply_overrides(loaded, options.overrides);
  return loaded;
}

std::optional<context::Source> context_source(ContextMode mode) {
  switch (mode) {
    case ContextMode::workflow: return context::Source::workflow;
    case ContextMode::git: return context::Source::git;
    case ContextMode::automatic: break;
  }
  return std::nullopt;
}

std::vector<const config::Target*> select_targets(const config::Config& config,
                                                  const std::vector<std::string>& names) {
  std::vector<const config::Target*> selected;
  if (names.empty()) {
    for (const auto& target : config.targets) selected.push_back(&target);
    return selected;
  }
  for (const auto& name : names) {
    const config::Target* target = config.find_target(name);
    if (target == nullptr) {
      std::string known;
      for (const auto& candidate : config.targets) known += (known.empty() ? "" : ", ") + candidate.name;
      throw UsageError(fmt::format("unknown target \"{}\"; the config defines: {}", name, known));
    }
    selected.push_back(target);
  }
  return selected;
}

DestinationPlan destination_for(const config::Config& config, ref::Reference repository) {
  DestinationPlan destination;
  destination.registry = repository.registry;
  destination.registry_config = config.find_registry(repository.registry);
  if (destination.registry_config != nullptr) {
    destination.insecure = destination.registry_config->insecure;
    destination.drop_attestations =
        destination.registry_config->attestations == config::AttestationPolicy::drop;
    destination.max_connections = destination.registry_config->max_connections;
  }
  repository.tag.reset();
  repository.digest.reset();
  destination.repository = std::move(repository);
  return destination;
}

std::vector<DestinationPlan> destinations_for(const config::Config& config, const config::Target& target) {
  std::vector<DestinationPlan> destinations;
  if (!target.images.empty()) {
    for (const auto& image : target.images) destinations.push_back(destination_for(config, image.reference));
    return destinations;
  }
  for (const auto& registry : config.registries) {
    std::string name = registry.host + "/";
    if (!registry.namespace_.empty()) name += registry.namespace_ + "/";
    name += target.image;
    auto parsed = ref::parse(name, /*lower_case=*/true);
    if (!parsed) {
      throw UsageError(fmt::format("{}: target \"{}\": {}", target.location.str(), target.name, parsed.error()));
    }
    destinations.push_back(destination_for(config, *parsed));
  }
  return destinations;
}

tags::Inputs tag_inputs(const config::Config& config, const config::Target& target,
                        const std::vector<DestinationPlan>& destinations) {
  tags::Inputs inputs;
  for (const auto& destination : destinations) inputs.images.push_back(destination.repository.name());
  inputs.tags = config.tags;
  inputs.flavor = config.flavor;
  inputs.labels = config.labels;
  inputs.labels.insert(inputs.labels.end(), target.labels.begin(), target.labels.end());
  inputs.annotations = config.annotations;
  inputs.annotations.insert(inputs.annotations.end(), target.annotations.begin(), target.annotations.end());
  return inputs;
}

void check_tags(const TargetPlan& plan) {
  for (const auto& tag : plan.metadata.tag_names) {
    if (ref::is_valid_tag(tag)) continue;
    std::string reason = tag.size() > 128 ? "it is longer than 128 characters"
                                          : "a tag may contain only A-Z a-z 0-9 _ . - and must not start with . or -";
    throw UsageError(fmt::format(
        "target \"{}\": computed tag \"{}\" is not a valid tag: {}; change the tag rules (prefix, suffix or "
        "pattern) so that every tag is valid",
        plan.target->name, tag, reason));
  }
}

bool decide_push(const Options& options, const Plan& plan, std::string& reason) {
  config::PushWhen when = options.push.value_or(plan.config.push.when);
  if (when == config::PushWhen::always) return true;
  if (when == config::PushWhen::never) {
    reason = options.push ? "--push=never" : "push.when: never";
    return false;
  }
  if (context::is_pull_request_like(plan.context)) {
    reason = fmt::format("\"{}\" events never push unless --push=always", plan.context.event_name);
    return false;
  }
  return true;
}

}  // namespace

Plan make_plan(const Options& options) {
  Plan plan;
  plan.config = load_config(options);
  plan.context = context::load(context_source(options.context_mode), plan.config.base_dir);
  plan.log_dir = options.log_dir ? std::filesystem::absolute(*options.log_dir) : plan.config.log.dir;

  auto now = std::chrono::system_clock::now();
  for (const config::Target* target : select_targets(plan.config, options.targets)) {
    TargetPlan target_plan;
    target_plan.target = target;
    target_plan.destinations = destinations_for(plan.config, *target);
    target_plan.metadata = tags::compute(plan.context, tag_inputs(plan.config, *target, target_plan.destinations), now);
    check_tags(target_plan);
    for (auto& destination : target_plan.destinations) destination.tags = target_plan.metadata.tag_names;
    plan.targets.push_back(std::move(target_plan));
  }
  plan.push = decide_push(options, plan, plan.push_reason);
  return plan;
}

std::string describe_plan(const Plan& plan) {
  std::string text;
  text += fmt::format("Context: {} {} ({})\n", plan.context.event_name, plan.context.ref.empty() ? "(no ref)" : plan.context.ref,
                      plan.context.sha.empty() ? "no commit" : plan.context.sha.substr(0, 12));
  text += plan.push ? "Push: yes\n" : fmt::format("Push: no, {}\n", plan.push_reason);
  for (const auto& target : plan.targets) {
    text += fmt::format("Target {}\n", target.target->name);
    text += fmt::format("  platforms: {}\n", fmt::join(target.target->platforms, ", "));
    text += fmt::format("  version:   {}\n", target.metadata.version.empty() ? "(none)" : target.metadata.version);
    text += fmt::format("  tags:      {}\n",
                        target.metadata.tag_names.empty() ? "(none)" : fmt::format("{}", fmt::join(target.metadata.tag_names, ", ")));
    for (const auto& destination : target.destinations) {
      text += fmt::format("  -> {}\n", destination.repository.name());
    }
  }
  return text;
}

}  // namespace multipush::pipeline
