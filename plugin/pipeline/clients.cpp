#include <fmt/format.h>

#include <chrono>

#include "multipush/output/redact.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"
#include "pipeline/steps.hpp"

namespace multipush::pipeline {
namespace {

// Credentials for one registry: the config file's username and password when
// it names both, else the docker config. Nothing else is read implicitly.
std::optional<auth::Credentials> credentials_for(const DestinationPlan& destination, const Options& options) {
  const config::Registry* registry = destination.registry_config;
  if (registry != nullptr && (registry->username || registry->password)) {
    if (!registry->username || !registry->password || registry->username->empty() || registry->password->empty()) {
      throw UsageError(fmt::format(
          "{}: registries.{}: set both username and password, or neither to use the docker config",
          registry->location.str(), registry->host));
    }
    output::register_secret(*registry->password);
    auth::Credentials credentials;
    credentials.username = *registry->username;
    credentials.password = *registry->password;
    credentials.source = fmt::format("{} (registries.{})", registry->location.file.filename().string(), registry->host);
    return credentials;
  }
  return auth::from_docker_config(destination.registry, auth::docker_config_dir(options.docker.config_dir));
}

}  // namespace

Clients open_clients(const Plan& plan, const Options& options, report::RunLog* log) {
  Clients clients;
  // The certs.d root can be moved for tests and rootless setups.
  std::filesystem::path certs_dir = util::get_env_or("MULTIPUSH_CERTS_DIR", "/etc/docker/certs.d");
  for (const auto& target : plan.targets) {
    for (const auto& destination : target.destinations) {
      if (clients.contains(destination.registry)) continue;
      registry::Options client_options;
      client_options.host = destination.registry;
      client_options.insecure = destination.insecure;
      client_options.credentials = credentials_for(destination, options);
      client_options.certs_dir = certs_dir;
      client_options.max_connections = destination.max_connections;
      client_options.cancel = &cancel_flag();
      if (destination.registry_config != nullptr) client_options.chunk_size = destination.registry_config->chunk_size;
      if (log != nullptr) {
        client_options.on_retry = [log](const registry::RetryEvent& event) {
          log->write("retry", {{"registry", event.host},
                               {"method", event.method},
                               {"url", event.url},
                               {"attempt", event.attempt},
                               {"reason", event.reason},
                               {"delay_seconds", std::chrono::duration<double>(event.delay).count()}});
        };
      }
      clients.emplace(destination.registry, std::make_unique<registry::RegistryClient>(client_options));
    }
  }
  return clients;
}

}  // namespace multipush::pipeline
