#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_build_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("build", "Compute tags and build every target into an OCI layout, "
                                              "without pushing");
  command->add_option("targets", context.options.targets, "Targets to build (default: every target)");
  auto print = std::make_shared<bool>(false);
  command->add_flag("--print", *print, "Print the generated bake definition and build nothing");
  auto layout_dir = std::make_shared<std::filesystem::path>();
  command->add_option("--layout", *layout_dir,
                      "Directory to move each target's OCI layout to, as DIR/<target>/ (replacing it), for "
                      "`push --layout DIR` in another job");
  command->callback([&context, print, layout_dir] {
    context.action = [&context, print, layout_dir] {
      return pipeline::build(context.options, *print, *layout_dir);
    };
  });
}

}  // namespace multipush::cli
