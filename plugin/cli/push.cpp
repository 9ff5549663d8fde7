#include <CLI/CLI.hpp>

#include <memory>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_push_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("push", "Push built OCI layouts to every registry: the targets of "
                                             "multipush.yaml, or one layout to every --to reference");
  auto request = std::make_shared<pipeline::PushRequest>();
  command->add_option("targets", context.options.targets,
                      "Targets of multipush.yaml to push (default: every target); not with --to");
  command->add_option("--layout", request->layout,
                      "With --to: an OCI layout directory or tar file. Without --to: a directory holding one OCI "
                      "layout directory per target (DIR/<target>/)");
  command->add_option("--to", request->destinations,
                      "Destination reference (repeatable); with a tag it gets that tag, without one the image is "
                      "pushed by digest only");
  command->add_option("--ref", request->ref_name,
                      "The index.json entry to push when a layout lists several: its "
                      "org.opencontainers.image.ref.name");
  command->footer(
      "Without --to, each target's layout is the one `docker multipush build` recorded in "
      ".multipush/build.json beside multipush.yaml, or DIR/<target>/ with --layout DIR. A target that was not "
      "built, whose layout is gone, or whose layout no longer contains the recorded digest is an error. A build "
      "from another commit or config is a warning. The tags are computed from the current context, and the "
      "push, verification and report are those of `docker multipush run`.");
  command->callback([&context, request] {
    context.action = [&context, request] { return pipeline::push(context.options, *request); };
  });
}

}  // namespace multipush::cli
