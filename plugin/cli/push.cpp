#include <CLI/CLI.hpp>

#include <memory>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_push_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("push", "Push the image of an OCI layout to every --to reference at once");
  auto request = std::make_shared<pipeline::PushRequest>();
  command->add_option("--layout", request->layout, "OCI layout directory, or an OCI layout tar file");
  command->add_option("--to", request->destinations,
                      "Destination reference (repeatable); with a tag it gets that tag, without one the image is "
                      "pushed by digest only");
  command->add_option("--ref", request->ref_name,
                      "The index.json entry to push when the layout lists several: its "
                      "org.opencontainers.image.ref.name");
  command->add_option("targets", context.options.targets, "Targets of multipush.yaml (not supported yet)");
  command->callback([&context, request] {
    context.action = [&context, request] { return pipeline::push(context.options, *request); };
  });
}

}  // namespace multipush::cli
