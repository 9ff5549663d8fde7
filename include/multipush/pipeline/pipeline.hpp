#pragma once

#include <filesystem>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "multipush/pipeline/options.hpp"
#include "multipush/util/error.hpp"

namespace multipush::pipeline {

// The whole job: context, tags, build, push to every registry, verify, report.
ExitCode run(const Options& options);

// Tags and build only. With `print_definition`, prints the bake definition
// and builds nothing. With `layout_dir`, each target's OCI layout is moved to
// `layout_dir/<target>/`. Records every built layout in
// `.multipush/build.json` beside multipush.yaml for `push TARGET...`.
ExitCode build(const Options& options, bool print_definition, const std::filesystem::path& layout_dir = {});

// Reads every tag back from every registry and compares digests.
ExitCode verify(const Options& options);

// What `push` pushes: with --to, one layout to those references; without,
// the targets of multipush.yaml (Options::targets) to their registries.
struct PushRequest {
  // With --to: an OCI layout directory or tar file. Without --to: a directory
  // holding one OCI layout directory per target (DIR/<target>/); when empty,
  // the layouts that `build` recorded.
  std::filesystem::path layout;
  std::vector<std::string> destinations;  // --to: a reference with a tag gets that tag; without one, by digest only
  std::string ref_name;                   // --ref: the index.json entry to push when a layout lists several
};

// With --to, pushes the image of an OCI layout to every destination at once,
// verifies it, and writes a run log and summary. Without --to, does what
// `run` does after its build for the selected targets: tags from the
// context, the pull-request rule, preflight, push, verify and report.
// Throws UsageError for targets together with --to, and for a target
// without a usable layout.
ExitCode push(const Options& options, const PushRequest& request);

// Copies the image `source` names (a single manifest or an index with every
// platform and attestation, plus the referrers of each manifest from the
// referrers API or the fallback tag) to every destination. Each blob is
// downloaded once. A destination with a tag gets that tag; one without a
// tag gets the image by digest only.
ExitCode mirror(const Options& options, const std::string& source, const std::vector<std::string>& destinations);

enum class MetaFormat { text, json, bake };

// The `meta` command's own options: docker/metadata-action's inputs, each
// list given as the action's input text (repeated flags already joined with
// newlines). An unset list falls back to multipush.yaml.
struct MetaOptions {
  std::optional<std::string> images;
  std::optional<std::string> tags;
  std::optional<std::string> flavor;
  std::optional<std::string> labels;
  std::optional<std::string> annotations;
  std::optional<std::string> sep_tags;
  std::optional<std::string> sep_labels;
  std::optional<std::string> sep_annotations;
  std::optional<std::string> bake_target;
  MetaFormat format = MetaFormat::text;
  std::optional<std::filesystem::path> bake_dir;  // default: a fresh run directory
};

// Prints tags, labels, annotations and version as docker/metadata-action
// computes them: for the --images given when there is no config file, else
// for each selected target of multipush.yaml. In GitHub Actions, also
// writes the action's step outputs and DOCKER_METADATA_OUTPUT_* variables.
// Unlike run and build, a tag that is not a valid tag is printed with a
// warning, as the action prints it.
ExitCode meta(const Options& options, const MetaOptions& meta);

// Lists recent runs, or prints one run's events.
ExitCode show_log(const Options& options, const std::optional<std::string>& run_id);

}  // namespace multipush::pipeline
