#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "multipush/context/context.hpp"

namespace multipush::tags {

// The docker/metadata-action inputs, one list entry per input line. Entries
// go through the action's list parsing: CSV quotes are removed and `#` starts
// a comment anywhere outside quotes (v5 behaviour).
struct Inputs {
  std::vector<std::string> images;       // metadata-action `images` entries (name[,enable=...])
  std::vector<std::string> tags;         // rules, one per entry ("type=semver,pattern={{version}}")
  std::vector<std::string> flavor;       // "latest=auto", "prefix=...", ...
  std::vector<std::string> labels;       // "key=value"
  std::vector<std::string> annotations;  // "key=value"
};

struct Metadata {
  std::vector<std::string> images;     // enabled images, lower-cased, in input order
  std::string version;
  std::vector<std::string> tags;       // full "image:tag", image-major order as the action emits
  std::vector<std::string> tag_names;  // tags without image
  std::vector<std::pair<std::string, std::string>> labels;  // in the action's output order
  std::vector<std::string> annotations;  // "manifest:key=value", one block per annotation level
  std::vector<std::string> warnings;     // e.g. a tag that is not a valid tag
};

// Computes tags, labels, annotations and version as docker/metadata-action v5
// does, with the repository data taken from context.repository_data instead
// of the GitHub REST API. `now` feeds {{date}} and the `created` label unless
// SOURCE_DATE_EPOCH is set. Throws UsageError naming the rule and what is
// wrong in it for an invalid rule, flavor, image or template. A computed
// tag that is not a valid tag (over 128 characters, or starting with '.' or
// '-') is kept, as the action keeps it, with a warning.
Metadata compute(const context::Context& context, const Inputs& inputs,
                 std::chrono::system_clock::time_point now);

// The action's `sep-tags`, `sep-labels`, `sep-annotations` and `bake-target`
// inputs, with the action's defaults.
struct OutputSettings {
  std::string sep_tags = "\n";
  std::string sep_labels = "\n";
  std::string sep_annotations = "\n";
  std::string bake_target = "docker-metadata-action";
};

// The action's `json` output: tags, tag-names, labels (in label order) and
// annotations. Keys keep the action's order.
nlohmann::ordered_json json_output(const Metadata& metadata);

enum class BakeKind { tags, labels, annotations, all };

// The bake files the action writes: `tags` (tags and args), `labels`,
// `annotations`, and `all` (tags, labels and args: the `bake-file` output).
// DOCKER_META_VERSION is left out when there is no version.
nlohmann::ordered_json bake_file(const Metadata& metadata, BakeKind kind, const std::string& target);

// The file name the action gives each bake file, e.g.
// docker-metadata-action-bake-tags.json.
std::string bake_file_name(BakeKind kind);

// Formats a bake file as the action writes it: two-space indentation, no
// trailing newline.
std::string dump_bake_file(const nlohmann::ordered_json& bake);

// The action's outputs in the order it sets them: version, tags, tag-names,
// labels, annotations, json, then the bake-file-tags, bake-file-labels,
// bake-file-annotations and bake-file paths given in `bake_paths` (in
// BakeKind order tags, labels, annotations, all).
std::vector<std::pair<std::string, std::string>> action_outputs(const Metadata& metadata,
                                                                const OutputSettings& settings,
                                                                const std::vector<std::string>& bake_paths);

}  // namespace multipush::tags
