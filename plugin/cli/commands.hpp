#pragma once

#include <functional>

#include "multipush/pipeline/options.hpp"
#include "multipush/util/error.hpp"

namespace CLI {
class App;
}

namespace multipush::cli {

// What every subcommand's wiring needs: the shared options it fills in, and
// the action it sets when it is the command given.
struct CommandContext {
  pipeline::Options& options;
  std::function<ExitCode()>& action;
};

void add_run_command(CLI::App& app, CommandContext& context);
void add_meta_command(CLI::App& app, CommandContext& context);
void add_build_command(CLI::App& app, CommandContext& context);
void add_push_command(CLI::App& app, CommandContext& context);
void add_mirror_command(CLI::App& app, CommandContext& context);
void add_verify_command(CLI::App& app, CommandContext& context);
void add_log_command(CLI::App& app, CommandContext& context);
void add_version_command(CLI::App& app, CommandContext& context);

}  // namespace multipush::cli
