#pragma once

// The plan of a run: what each step will do, settled before anything is
// built or pushed, so that --dry-run can print it and every bad input is
// reported before work starts.

#include <optional>
#include <string>
#include <vector>

#include "multipush/auth/credentials.hpp"
#include "multipush/config/config.hpp"
#include "multipush/context/context.hpp"
#include "multipush/pipeline/options.hpp"
#include "multipush/ref/reference.hpp"
#include "multipush/tags/tags.hpp"

namespace multipush::pipeline {

struct DestinationPlan {
  std::string registry;                 // registry host, "docker.io" for Docker Hub
  ref::Reference repository;            // without tag or digest
  std::vector<std::string> tags;        // tag names to apply
  bool insecure = false;
  bool drop_attestations = false;
  int max_connections = 4;
  const config::Registry* registry_config = nullptr;  // null for images outside `registries`
};

struct TargetPlan {
  const config::Target* target = nullptr;
  tags::Metadata metadata;
  std::vector<DestinationPlan> destinations;
};

// TargetPlan points into `config`, so a Plan moves but never copies.
struct Plan {
  Plan() = default;
  Plan(Plan&&) = default;
  Plan& operator=(Plan&&) = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  config::Config config;
  context::Context context;
  std::vector<TargetPlan> targets;
  bool push = true;
  std::string push_reason;              // why nothing is pushed, when push is false
  std::filesystem::path log_dir;
};

// Loads the config and the context and computes every target's tags and
// destinations. Throws UsageError for bad input, including a computed tag
// that is not a valid tag.
Plan make_plan(const Options& options);

// Prints the plan: targets, platforms, registries and tags.
std::string describe_plan(const Plan& plan);

}  // namespace multipush::pipeline
