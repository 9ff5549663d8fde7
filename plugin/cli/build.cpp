#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_build_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("build", "Compute tags and build every target into an OCI layout, "
                                              "without pushing");
  command->add_option("targets", context.options.targets, "Targets to build (default: every target)");
  auto print = std::make_shared<bool>(false);
  command->add_flag("--print", *print, "Print the generated bake definition and build nothing");
  command->callback([&context, print] {
    context.action = [&context, print] { return pipeline::build(context.options, *print); };
  });
}

}  // namespace multipush::cli
