#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace multipush::auth {

struct Credentials {
  std::string username;
  std::string password;        // or a personal access token
  std::string identity_token;  // refresh token from `docker login` (helper Username "<token>")
  std::string registry_token;  // ready bearer token for the registry itself
  std::string source;          // where they came from, for messages: "multipush.yaml", "credHelpers[ghcr.io] (docker-credential-pass)"
};

// Returns the docker config directory: `config_dir` (docker --config) when
// set, else $DOCKER_CONFIG, else ~/.docker.
std::filesystem::path docker_config_dir(const std::optional<std::filesystem::path>& config_dir);

// Resolves credentials for a registry host from the docker config in `dir`:
// credHelpers[key], then credsStore, then auths[key]. Returns std::nullopt
// for anonymous access. Throws UsageError for a malformed config.json or a
// helper that fails with anything but "credentials not found".
std::optional<Credentials> from_docker_config(const std::string& registry_host,
                                              const std::filesystem::path& dir);

}  // namespace multipush::auth
