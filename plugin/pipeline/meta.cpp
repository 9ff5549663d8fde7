// The `meta` command: docker/metadata-action's outputs, for the --images
// given or for the targets of multipush.yaml.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "multipush/config/config.hpp"
#include "multipush/context/context.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/pipeline/pipeline.hpp"
#include "multipush/report/github.hpp"
#include "multipush/tags/tags.hpp"
#include "multipush/util/env.hpp"
#include "pipeline/common.hpp"

namespace multipush::pipeline {
namespace {

// One set of outputs: the --images of the action's mode, or one target.
struct MetaResult {
  std::string name;  // the target's name; "" without a config file
  tags::Metadata metadata;
};

std::optional<context::Source> context_source(ContextMode mode) {
  switch (mode) {
    case ContextMode::workflow: return context::Source::workflow;
    case ContextMode::git: return context::Source::git;
    case ContextMode::automatic: break;
  }
  return std::nullopt;
}

// An input's text as the action's list parser sees it: one line per entry.
std::vector<std::string> lines_of(const std::optional<std::string>& text) {
  if (!text) return {};
  return {*text};
}

// Uses the flag when given, else the value from multipush.yaml.
std::vector<std::string> pick(const std::optional<std::string>& flag, std::vector<std::string> from_config) {
  return flag ? lines_of(flag) : from_config;
}

tags::OutputSettings output_settings(const MetaOptions& meta) {
  tags::OutputSettings settings;
  // An empty separator means the default, as in the action; it is not trimmed.
  if (meta.sep_tags && !meta.sep_tags->empty()) settings.sep_tags = *meta.sep_tags;
  if (meta.sep_labels && !meta.sep_labels->empty()) settings.sep_labels = *meta.sep_labels;
  if (meta.sep_annotations && !meta.sep_annotations->empty()) settings.sep_annotations = *meta.sep_annotations;
  if (meta.bake_target) {
    std::string target = *meta.bake_target;
    target.erase(0, target.find_first_not_of(" \t\r\n"));
    target.erase(target.find_last_not_of(" \t\r\n") + 1);
    if (!target.empty()) settings.bake_target = target;
  }
  return settings;
}

// DOCKER_METADATA_SET_OUTPUT_ENV: unset or empty is true; otherwise one of
// the boolean words the action accepts.
bool output_env_enabled() {
  auto value = util::get_env("DOCKER_METADATA_SET_OUTPUT_ENV");
  if (!value || value->empty()) return true;
  for (const char* word : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (*value == word) return true;
  }
  for (const char* word : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (*value == word) return false;
  }
  throw UsageError(fmt::format("DOCKER_METADATA_SET_OUTPUT_ENV must be true or false (or 1, 0, t, f), got \"{}\"",
                               *value));
}

std::string random_delimiter(const std::string& value) {
  static std::mt19937_64 random{std::random_device{}()};
  std::string delimiter;
  do {
    delimiter = fmt::format("ghadelimiter_{:016x}{:016x}", random(), random());
  } while (value.find(delimiter) != std::string::npos);
  return delimiter;
}

// Appends NAME=value pairs to the file named by GITHUB_ENV in the heredoc
// form, as the runner's exportVariable does.
void write_github_env(const std::vector<std::pair<std::string, std::string>>& variables) {
  auto path = util::get_env("GITHUB_ENV");
  if (!path || path->empty()) {
    spdlog::debug("GITHUB_ENV is not set; the DOCKER_METADATA_OUTPUT_* variables are not exported");
    return;
  }
  std::string text;
  for (const auto& [name, raw_value] : variables) {
    const std::string value = output::redact(raw_value);
    const std::string delimiter = random_delimiter(value);
    text += name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n";
  }
  std::ofstream file(*path, std::ios::binary | std::ios::app);
  if (file) file << text;
  if (file) file.flush();
  if (!file) {
    throw Fatal(ExitCode::internal,
                fmt::format("failed to append to the GITHUB_ENV file {}; check that the path in GITHUB_ENV is "
                            "writable",
                            *path));
  }
}

// DOCKER_METADATA_OUTPUT_<NAME>: non-word characters become '_', upper case.
std::string env_name(const std::string& output) {
  std::string name = "DOCKER_METADATA_OUTPUT_";
  for (char c : output) {
    bool word = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    name.push_back(word ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_');
  }
  return name;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (file) file << text;
  if (file) file.flush();
  if (!file) {
    throw UsageError(fmt::format("cannot write the bake file {}; pass a writable directory to --bake-dir",
                                 path.string()));
  }
}

// Writes the four bake files of one result and returns their paths in
// BakeKind order: tags, labels, annotations, all.
std::vector<std::string> write_bake_files(const std::filesystem::path& dir, const MetaResult& result,
                                          const std::string& target) {
  std::filesystem::path target_dir = result.name.empty() ? dir : dir / result.name;
  std::error_code error;
  std::filesystem::create_directories(target_dir, error);
  if (error) {
    throw UsageError(fmt::format("cannot create the bake file directory {}: {}; pass a writable directory to "
                                 "--bake-dir",
                                 target_dir.string(), error.message()));
  }
  std::vector<std::string> paths;
  for (auto kind : {tags::BakeKind::tags, tags::BakeKind::labels, tags::BakeKind::annotations, tags::BakeKind::all}) {
    auto path = target_dir / tags::bake_file_name(kind);
    write_file(path, tags::dump_bake_file(tags::bake_file(result.metadata, kind, target)));
    paths.push_back(path.string());
  }
  return paths;
}

nlohmann::ordered_json json_with_version(const tags::Metadata& metadata) {
  nlohmann::ordered_json json = tags::json_output(metadata);
  json["version"] = metadata.version;
  return json;
}

std::string format_results(const std::vector<MetaResult>& results, const MetaOptions& meta,
                           const tags::OutputSettings& settings, bool keyed) {
  auto join = [](const std::vector<std::string>& items, const std::string& separator) {
    std::string text;
    for (std::size_t i = 0; i < items.size(); ++i) text += (i > 0 ? separator : "") + items[i];
    return text;
  };
  if (meta.format == MetaFormat::text) {
    if (!keyed) return join(results.front().metadata.tags, settings.sep_tags);
    std::string text;
    for (const auto& result : results) {
      text += fmt::format("# {}\n", result.name);
      if (!result.metadata.tags.empty()) text += join(result.metadata.tags, settings.sep_tags) + "\n";
    }
    return text;
  }
  if (meta.format == MetaFormat::json) {
    if (!keyed) return json_with_version(results.front().metadata).dump(2);
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    for (const auto& result : results) json[result.name] = json_with_version(result.metadata);
    return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  // One bake file; with several targets, one bake target per config target.
  nlohmann::ordered_json bake;
  for (const auto& result : results) {
    std::string target = keyed ? result.name : settings.bake_target;
    bake["target"][target] = tags::bake_file(result.metadata, tags::BakeKind::all, target)["target"][target];
  }
  return tags::dump_bake_file(bake);
}

}  // namespace

ExitCode meta(const Options& options, const MetaOptions& meta) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  const auto now = std::chrono::system_clock::now();
  const tags::OutputSettings settings = output_settings(meta);

  std::vector<MetaResult> results;
  bool keyed = false;
  std::optional<context::Context> context;
  auto config_file = config::find_config(options.file, options.cwd);
  if (!config_file) {
    // The action's mode: the inputs given on the command line, nothing else.
    context = context::load(context_source(options.context_mode), options.cwd);
    tags::Inputs inputs;
    inputs.images = meta.images ? lines_of(meta.images) : options.overrides.images;
    inputs.tags = lines_of(meta.tags);
    inputs.flavor = lines_of(meta.flavor);
    inputs.labels = lines_of(meta.labels);
    inputs.annotations = lines_of(meta.annotations);
    results.push_back({"", tags::compute(*context, inputs, now)});
  } else {
    config::Config config = config::load_config(*config_file);
    config::apply_overrides(config, options.overrides);
    context = context::load(context_source(options.context_mode), config.base_dir);
    std::vector<const config::Target*> selected;
    for (const auto& name : options.targets) {
      const config::Target* target = config.find_target(name);
      if (target == nullptr) {
        std::string known;
        for (const auto& candidate : config.targets) known += (known.empty() ? "" : ", ") + candidate.name;
        throw UsageError(fmt::format("unknown target \"{}\"; the config defines: {}", name, known));
      }
      selected.push_back(target);
    }
    if (options.targets.empty()) {
      for (const auto& target : config.targets) selected.push_back(&target);
    }
    keyed = options.targets.size() != 1;
    for (const config::Target* target : selected) {
      std::vector<std::string> images;
      for (const auto& destination : config::destinations(config, *target)) images.push_back(destination.name());
      std::vector<std::string> labels = config.labels;
      labels.insert(labels.end(), target->labels.begin(), target->labels.end());
      std::vector<std::string> annotations = config.annotations;
      annotations.insert(annotations.end(), target->annotations.begin(), target->annotations.end());

      tags::Inputs inputs;
      inputs.images = meta.images ? lines_of(meta.images) : images;
      inputs.tags = pick(meta.tags, config.tags);
      inputs.flavor = pick(meta.flavor, config.flavor);
      inputs.labels = pick(meta.labels, labels);
      inputs.annotations = pick(meta.annotations, annotations);
      results.push_back({target->name, tags::compute(*context, inputs, now)});
    }
  }

  for (const auto& result : results) {
    for (const auto& warning : result.metadata.warnings) {
      printer.warning(result.name.empty() ? warning : fmt::format("target \"{}\": {}", result.name, warning));
    }
  }

  // Bake files are written when asked for, and in GitHub Actions, where the
  // bake-file outputs name them.
  const bool in_actions = context->github_actions;
  const bool has_output_file = util::get_env("GITHUB_OUTPUT").has_value() &&
                               !util::get_env("GITHUB_OUTPUT")->empty();
  if (in_actions && !has_output_file) {
    spdlog::debug("GITHUB_ACTIONS is true but GITHUB_OUTPUT is not set; writing no step outputs");
  }
  if (meta.bake_dir || (in_actions && has_output_file)) {
    std::optional<WorkDir> run_dir;
    std::filesystem::path dir;
    if (meta.bake_dir) {
      dir = std::filesystem::absolute(*meta.bake_dir);
    } else {
      run_dir.emplace(fmt::format("meta-{}", now.time_since_epoch().count()));
      run_dir->keep();
      dir = run_dir->path();
    }
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const auto& result : results) {
      std::string target = keyed ? result.name : settings.bake_target;
      auto paths = write_bake_files(dir, result, target);
      for (auto& [name, value] : tags::action_outputs(result.metadata, settings, paths)) {
        // With several targets, each output name starts with the target's name.
        outputs.emplace_back(keyed ? result.name + "-" + name : name, std::move(value));
      }
    }
    if (in_actions && has_output_file) {
      report::write_github_outputs(outputs);
      if (output_env_enabled()) {
        std::vector<std::pair<std::string, std::string>> variables;
        for (const auto& [name, value] : outputs) variables.emplace_back(env_name(name), value);
        write_github_env(variables);
      }
    }
  }

  printer.result(format_results(results, meta, settings, keyed));
  return ExitCode::ok;
}

}  // namespace multipush::pipeline
