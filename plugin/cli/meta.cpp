#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {
namespace {

// The flags of one repeatable list input; repeated values join with newlines.
struct ListFlag {
  const char* name;
  const char* help;
  std::vector<std::string> values;
};

std::optional<std::string> joined(const std::vector<std::string>& values) {
  if (values.empty()) return std::nullopt;
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) text += (i > 0 ? "\n" : "") + values[i];
  return text;
}

}  // namespace

void add_meta_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "meta", "Print the tags, labels, annotations and version docker/metadata-action computes");
  command->add_option("targets", context.options.targets, "Targets to show (default: every target)");

  auto lists = std::make_shared<std::vector<ListFlag>>(std::vector<ListFlag>{
      {"--images", "Images to tag, as the action's `images` input (replaces the config's images)", {}},
      {"--tags", "Tag rules, as the action's `tags` input (replaces `tags` in multipush.yaml)", {}},
      {"--flavor", "Flavor, as the action's `flavor` input (replaces `flavor` in multipush.yaml)", {}},
      {"--labels", "Labels, as the action's `labels` input (replaces the config's labels)", {}},
      {"--annotations", "Annotations, as the action's `annotations` input (replaces the config's annotations)", {}},
  });
  for (auto& list : *lists) {
    command->add_option(list.name, list.values, std::string(list.help) + "; repeat to add lines")
        ->allow_extra_args(false)
        ->type_name("TEXT");
  }
  auto meta = std::make_shared<pipeline::MetaOptions>();
  command->add_option("--sep-tags", meta->sep_tags, "Separator between tags in text output (default: newline)");
  command->add_option("--sep-labels", meta->sep_labels, "Separator between labels in the labels output");
  command->add_option("--sep-annotations", meta->sep_annotations,
                      "Separator between annotations in the annotations output");
  command->add_option("--bake-target", meta->bake_target,
                      "Bake target name in bake output (default: docker-metadata-action)");
  command->add_option("--bake-dir", meta->bake_dir, "Directory for the bake files (default: a new run directory)");
  auto source = std::make_shared<std::string>();
  command->add_option("--context", *source, "Where the git context comes from: workflow or git")
      ->check(CLI::IsMember({"workflow", "git"}));
  auto format = std::make_shared<std::string>("text");
  command->add_option("--format", *format, "Output format: text, json or bake")
      ->check(CLI::IsMember({"text", "json", "bake"}));

  command->callback([&context, lists, meta, source, format] {
    meta->images = joined((*lists)[0].values);
    meta->tags = joined((*lists)[1].values);
    meta->flavor = joined((*lists)[2].values);
    meta->labels = joined((*lists)[3].values);
    meta->annotations = joined((*lists)[4].values);
    meta->format = pipeline::MetaFormat::text;
    if (*format == "json") meta->format = pipeline::MetaFormat::json;
    if (*format == "bake") meta->format = pipeline::MetaFormat::bake;
    if (*source == "workflow") context.options.context_mode = pipeline::ContextMode::workflow;
    if (*source == "git") context.options.context_mode = pipeline::ContextMode::git;
    context.action = [&context, meta] { return pipeline::meta(context.options, *meta); };
  });
}

}  // namespace multipush::cli
