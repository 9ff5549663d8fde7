#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_meta_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "meta", "Print the tags, labels, annotations and version computed for every target");
  command->add_option("targets", context.options.targets, "Targets to show (default: every target)");
  auto format = std::make_shared<std::string>("text");
  command->add_option("--format", *format, "Output format: text, json or bake")
      ->check(CLI::IsMember({"text", "json", "bake"}));
  command->callback([&context, format] {
    pipeline::MetaFormat selected = pipeline::MetaFormat::text;
    if (*format == "json") selected = pipeline::MetaFormat::json;
    if (*format == "bake") selected = pipeline::MetaFormat::bake;
    context.action = [&context, selected] { return pipeline::meta(context.options, selected); };
  });
}

}  // namespace multipush::cli
