#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_mirror_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "mirror", "Copy an image with every platform, attestation and referrer from one registry to several");
  auto source = std::make_shared<std::string>();
  auto destinations = std::make_shared<std::vector<std::string>>();
  command
      ->add_option("source", *source, "Source reference with a tag or digest, such as ghcr.io/acme/app:1.2.3")
      ->required();
  command
      ->add_option("destinations", *destinations,
                   "Destination references; with a tag it gets that tag, without one the image is copied by "
                   "digest only")
      ->required();
  command->callback([&context, source, destinations] {
    context.action = [&context, source, destinations] {
      return pipeline::mirror(context.options, *source, *destinations);
    };
  });
}

}  // namespace multipush::cli
