#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "multipush/config/config.hpp"

// Builds every target into an OCI image layout, with `docker buildx bake` or,
// where buildx is missing, with buildah.
namespace multipush::build {

struct TargetSpec {
  const config::Target* target = nullptr;     // context, dockerfile (absolute), args, target, platforms, labels, annotations
  std::vector<std::string> tags;              // full references, "docker.io/openim/openkf-server:1.2.3"
  std::vector<std::pair<std::string, std::string>> labels;  // from the tag step; target labels win on the same key
  std::vector<std::string> annotations;       // "[types:]key=value", before the target's own
};

struct Request {
  std::vector<TargetSpec> targets;
  config::Build build;                         // builder, bake files, cache-from/to, attest
  std::vector<std::string> docker_global_args; // e.g. {"--config", "/x", "--context", "ci"}, put before `buildx`
  std::string docker_command = "docker";       // $DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND when set
  std::filesystem::path work_dir;              // fresh directory for this run: bake file, metadata, layouts
  bool github_actions = false;                 // wrap builder output in ::stop-commands::
  // SOURCE_DATE_EPOCH: buildah gets it as --timestamp so that layers and
  // configs are reproducible and a re-run has nothing new to push. buildx
  // reads the variable from the environment itself.
  std::optional<std::string> source_date_epoch;
};

struct BuiltImage {
  std::string target;
  std::filesystem::path layout;                // OCI image layout directory
  std::string digest;                          // image index digest (buildx: containerimage.digest)
};

enum class Backend { buildx, buildah };

// Chooses buildx when `docker buildx version` succeeds (or `build.builder` is
// buildx), else buildah. Throws Fatal(build_failed) when the requested
// builder, or with `auto` both of them, cannot be run.
Backend choose_backend(const Request& request);

// Returns the bake definition (JSON) that build() writes: a `default` group
// and one target per TargetSpec, whose output is the OCI layout directory
// `layout_dirs[name]`. Throws UsageError for a target name that bake rejects.
nlohmann::json bake_definition(const Request& request,
                               const std::map<std::string, std::filesystem::path>& layout_dirs);

// Checks with `docker buildx inspect --bootstrap` that the current builder can
// export OCI layouts and build every platform of every target. Throws
// Fatal(build_failed) with the missing platforms and how to add them.
void check_platforms(const Request& request);

// Builds every target into a fresh OCI layout under `work_dir/layouts/` and
// returns one BuiltImage per target, in request order. The builder's own
// progress goes to stderr. With buildx, check_platforms() runs first. Throws
// Fatal(build_failed) when the builder fails or leaves no usable result.
std::vector<BuiltImage> build(const Request& request);

}  // namespace multipush::build
