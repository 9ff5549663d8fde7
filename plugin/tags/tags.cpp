#include "multipush/tags/tags.hpp"

#include <cctype>

#include "multipush/util/error.hpp"
#include "tags/csv.hpp"
#include "tags/date_format.hpp"
#include "tags/expressions.hpp"
#include "tags/labels.hpp"
#include "tags/rules.hpp"
#include "tags/version.hpp"

namespace multipush::tags {
namespace {

using std::chrono::system_clock;

constexpr std::size_t kMaxTagLength = 128;

std::vector<std::string> split_input(const std::vector<std::string>& lines, const std::string& input) {
  auto entries = split_list_input(lines);
  if (!entries) throw UsageError("invalid " + input + " list: " + entries.error());
  return *entries;
}

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string json_string(const nlohmann::json& object, const char* pointer) {
  const nlohmann::json::json_pointer path(pointer);
  if (!object.contains(path) || !object.at(path).is_string()) return {};
  return object.at(path).get<std::string>();
}

system_clock::time_point created_time(const context::Context& context, system_clock::time_point now) {
  if (!context.source_date_epoch) return now;
  const std::string& text = *context.source_date_epoch;
  bool digits = !text.empty() && text.size() <= 12 &&
                std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (!digits) {
    throw UsageError("SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01T00:00:00Z, got \"" +
                     text + "\"");
  }
  return system_clock::time_point(std::chrono::seconds(std::stoll(text)));
}

// The labels every image gets, from the repository data, in the action's order.
Labels default_labels(const context::Context& context, const std::string& version, system_clock::time_point created) {
  const auto& repository = context.repository_data;
  const std::string url = json_string(repository, "/html_url");
  return {
      {"org.opencontainers.image.title", json_string(repository, "/name")},
      {"org.opencontainers.image.description", json_string(repository, "/description")},
      {"org.opencontainers.image.url", url},
      {"org.opencontainers.image.source", url},
      {"org.opencontainers.image.version", version},
      {"org.opencontainers.image.created", format_iso8601_utc(created)},
      {"org.opencontainers.image.revision", context.sha},
      {"org.opencontainers.image.licenses", json_string(repository, "/license/spdx_id")},
  };
}

Labels labels_or_throw(const Labels& defaults, const std::vector<std::string>& entries, const Scope& scope,
                       const std::string& input) {
  try {
    return build_labels(defaults, entries, scope);
  } catch (const TemplateError& e) {
    throw UsageError("invalid " + input + " entry: " + std::string(e.what()));
  }
}

std::vector<std::string> tag_names(const Version& version, const Flavor& flavor) {
  std::vector<std::string> names;
  if (version.main.empty()) return names;
  names.push_back(version.main);
  names.insert(names.end(), version.partial.begin(), version.partial.end());
  if (version.latest) {
    // The flavor prefix and suffix are used here as written, without rendering.
    std::string latest = (flavor.prefix_on_latest ? flavor.prefix : "") + "latest" +
                         (flavor.suffix_on_latest ? flavor.suffix : "");
    names.push_back(sanitize_tag(latest));
  }
  return names;
}

void warn_invalid_tags(const std::vector<std::string>& names, std::vector<std::string>& warnings) {
  for (const auto& name : names) {
    if (name.size() > kMaxTagLength) {
      warnings.push_back("tag \"" + name + "\" is not a valid tag: it is longer than 128 characters");
    } else if (name.starts_with('.') || name.starts_with('-')) {
      warnings.push_back("tag \"" + name + "\" is not a valid tag: it starts with '" + name.substr(0, 1) + "'");
    }
  }
}

}  // namespace

Metadata compute(const context::Context& context, const Inputs& inputs, system_clock::time_point now) {
  const auto images = parse_images(split_input(inputs.images, "images"));
  const auto rules = parse_rules(split_input(inputs.tags, "tags"));
  const auto flavor = parse_flavor(split_input(inputs.flavor, "flavor"));

  const Scope global = global_scope(context, now);
  const Scope dates = date_scope(context, now);
  Version version = compute_version(rules, flavor, context, global, dates);

  Metadata metadata;
  metadata.version = version.main;
  metadata.warnings = std::move(version.warnings);
  metadata.tag_names = tag_names(version, flavor);
  if (metadata.tag_names.empty()) {
    metadata.warnings.push_back("no tag was generated for ref \"" + context.ref + "\" and event \"" +
                                context.event_name + "\"");
  }
  warn_invalid_tags(metadata.tag_names, metadata.warnings);

  std::vector<std::string>& enabled = metadata.images;
  for (const auto& image : images) {
    if (image.enabled) enabled.push_back(to_lower(image.name));
  }
  if (enabled.empty()) {
    metadata.tags = metadata.tag_names;
  } else {
    for (const auto& image : enabled) {
      for (const auto& name : metadata.tag_names) metadata.tags.push_back(image.empty() ? name : image + ":" + name);
    }
  }

  const Labels defaults = default_labels(context, version.main, created_time(context, now));
  metadata.labels = labels_or_throw(defaults, split_input(inputs.labels, "labels"), global, "labels");

  const Labels annotations =
      labels_or_throw(defaults, split_input(inputs.annotations, "annotations"), global, "annotations");
  // Levels are split on ',' without trimming, as the action does.
  std::string levels = context.annotation_levels;
  std::size_t start = 0;
  while (true) {
    auto comma = levels.find(',', start);
    std::string level = levels.substr(start, comma - start);
    for (const auto& [key, value] : annotations) metadata.annotations.push_back(level + ":" + key + "=" + value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return metadata;
}

namespace {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i > 0 ? separator : "") + items[i];
  return text;
}

nlohmann::ordered_json labels_object(const Labels& labels) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [key, value] : labels) object[key] = value;
  return object;
}

nlohmann::ordered_json tags_args(const Metadata& metadata) {
  nlohmann::ordered_json args = {{"DOCKER_META_IMAGES", join(metadata.images, ",")}};
  if (!metadata.version.empty()) args["DOCKER_META_VERSION"] = metadata.version;
  return args;
}

}  // namespace

nlohmann::ordered_json json_output(const Metadata& metadata) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  json["tags"] = metadata.tags;
  json["tag-names"] = metadata.tag_names;
  json["labels"] = labels_object(metadata.labels);
  json["annotations"] = metadata.annotations;
  return json;
}

nlohmann::ordered_json bake_file(const Metadata& metadata, BakeKind kind, const std::string& target) {
  nlohmann::ordered_json definition = nlohmann::ordered_json::object();
  switch (kind) {
    case BakeKind::tags:
      definition["tags"] = metadata.tags;
      definition["args"] = tags_args(metadata);
      break;
    case BakeKind::labels: definition["labels"] = labels_object(metadata.labels); break;
    case BakeKind::annotations: definition["annotations"] = metadata.annotations; break;
    case BakeKind::all:
      definition["tags"] = metadata.tags;
      definition["labels"] = labels_object(metadata.labels);
      definition["args"] = tags_args(metadata);
      break;
  }
  nlohmann::ordered_json bake;
  bake["target"][target] = std::move(definition);
  return bake;
}

std::string bake_file_name(BakeKind kind) {
  switch (kind) {
    case BakeKind::tags: return "docker-metadata-action-bake-tags.json";
    case BakeKind::labels: return "docker-metadata-action-bake-labels.json";
    case BakeKind::annotations: return "docker-metadata-action-bake-annotations.json";
    case BakeKind::all: break;
  }
  return "docker-metadata-action-bake.json";
}

std::string dump_bake_file(const nlohmann::ordered_json& bake) {
  return bake.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::vector<std::pair<std::string, std::string>> action_outputs(const Metadata& metadata,
                                                                const OutputSettings& settings,
                                                                const std::vector<std::string>& bake_paths) {
  std::vector<std::string> labels;
  for (const auto& [key, value] : metadata.labels) labels.push_back(key + "=" + value);
  std::vector<std::pair<std::string, std::string>> outputs = {
      {"version", metadata.version},
      {"tags", join(metadata.tags, settings.sep_tags)},
      {"tag-names", join(metadata.tag_names, settings.sep_tags)},
      {"labels", join(labels, settings.sep_labels)},
      {"annotations", join(metadata.annotations, settings.sep_annotations)},
      {"json", json_output(metadata).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)},
  };
  const char* names[] = {"bake-file-tags", "bake-file-labels", "bake-file-annotations", "bake-file"};
  for (std::size_t i = 0; i < bake_paths.size() && i < 4; ++i) outputs.emplace_back(names[i], bake_paths[i]);
  return outputs;
}

}  // namespace multipush::tags
