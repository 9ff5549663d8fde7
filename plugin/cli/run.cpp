#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_run_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("run", "Compute tags, build, push to every registry, verify and report "
                                            "(the default command)");
  command->add_option("targets", context.options.targets, "Targets to run (default: every target)");
  command->callback([&context] {
    context.action = [&context] { return pipeline::run(context.options); };
  });
}

}  // namespace multipush::cli
