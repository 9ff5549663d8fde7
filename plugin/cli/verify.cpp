#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_verify_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "verify", "Check that every tag on every registry resolves to the same digest and platforms");
  command->add_option("targets", context.options.targets, "Targets to verify (default: every target)");
  command->callback([&context] {
    context.action = [&context] { return pipeline::verify(context.options); };
  });
}

}  // namespace multipush::cli
