#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "multipush/config/config.hpp"

namespace multipush::pipeline {

// Docker's own global options given before `multipush`, passed on to every
// `docker buildx` call so that buildx sees the same config and context.
struct DockerGlobals {
  std::vector<std::string> args;                     // as given: {"--config", "/tmp/cfg", "--context", "ci"}
  std::optional<std::filesystem::path> config_dir;   // --config: the docker config directory
  bool debug = false;                                // -D/--debug
};

enum class ContextMode { automatic, workflow, git };

// Options shared by every command, set from the command line.
struct Options {
  std::optional<std::filesystem::path> file;         // -f/--file
  config::Overrides overrides;                       // --image, --context, --dockerfile, --platform
  bool dry_run = false;
  std::optional<config::PushWhen> push;              // --push; unset: push.when from the config
  std::string progress = "auto";                     // auto, tty, plain, quiet, json
  std::optional<std::filesystem::path> metadata_file;
  std::optional<std::filesystem::path> log_dir;
  bool debug = false;
  bool skip_preflight = false;                       // --skip-preflight: as push.preflight: off
  std::vector<std::string> targets;                  // positional TARGET...; empty: every target
  ContextMode context_mode = ContextMode::automatic;
  DockerGlobals docker;
  std::filesystem::path cwd;                         // where the command was started
};

}  // namespace multipush::pipeline
