#include "build/buildah.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <iostream>
#include <random>

#include "build/common.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

namespace multipush::build::detail {
namespace {

// NOTE: vfs copies every layer in full, so it is slow and large for big
// images, but it works as root inside containers where overlay does not.
const std::vector<std::string> kBuildah{"buildah", "--storage-driver", "vfs"};

std::vector<std::string> buildah(std::initializer_list<std::string> args) {
  std::vector<std::string> argv = kBuildah;
  argv.insert(argv.end(), args);
  return argv;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

// Splits "[types:]key=value" and returns the key=value part when the
// annotation applies to platform manifests only, the one kind that
// `buildah build --annotation` sets. Returns std::nullopt otherwise.
std::optional<std::string> manifest_annotation(const std::string& annotation) {
  const auto eq = annotation.find('=');
  const auto colon = annotation.find(':');
  if (colon == std::string::npos || (eq != std::string::npos && colon > eq)) return annotation;
  const std::string types = annotation.substr(0, colon);
  if (types == "manifest") return annotation.substr(colon + 1);
  return std::nullopt;
}

std::string unique_manifest_name(const std::string& target) {
  std::random_device device;
  std::uniform_int_distribution<unsigned> number(0, 0xffffff);
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", number(device));
  // Image names are lower case; bake-style target names may not be.
  std::string name;
  for (unsigned char c : target) name += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
  return "localhost/multipush-" + name + "-" + std::to_string(::getpid()) + "-" + suffix;
}

void remove_manifest(const std::vector<std::string>& argv) {
  // Best effort: a leftover list only takes space in local storage.
  util::ProcessOptions options;
  options.timeout = std::chrono::seconds(60);
  util::run_process(argv, options);
}

}  // namespace

BuildahCommands buildah_commands(const Request& request, const TargetSpec& spec,
                                 const std::string& manifest_name, const std::filesystem::path& layout) {
  const config::Target& target = target_of(spec);
  BuildahCommands commands;

  commands.build = buildah({"build", "--format", "oci"});
  if (request.source_date_epoch) commands.build.insert(commands.build.end(), {"--timestamp", *request.source_date_epoch});
  if (!target.platforms.empty()) commands.build.insert(commands.build.end(), {"--platform", join(target.platforms, ",")});
  commands.build.insert(commands.build.end(), {"--manifest", manifest_name, "-f", target.dockerfile.string()});
  for (const auto& [name, value] : target.args) commands.build.insert(commands.build.end(), {"--build-arg", name + "=" + value});
  if (target.target) commands.build.insert(commands.build.end(), {"--target", *target.target});
  for (const auto& [key, value] : merged_labels(spec)) commands.build.insert(commands.build.end(), {"--label", key + "=" + value});

  // NOTE: buildah 1.28 sets annotations on platform manifests only; it has no
  // flag for index annotations, and `manifest annotate` cannot scope by the
  // `[os/arch]` suffix bake accepts, so those annotations are left out.
  for (const std::string& annotation : merged_annotations(spec)) {
    if (auto value = manifest_annotation(annotation)) {
      commands.build.insert(commands.build.end(), {"--annotation", *value});
    } else {
      commands.ignored.push_back("annotation " + annotation);
    }
  }
  commands.build.push_back(target.context.string());

  for (const std::string& entry : request.build.cache_from) commands.ignored.push_back("cache-from " + entry);
  for (const std::string& entry : request.build.cache_to) commands.ignored.push_back("cache-to " + entry);
  for (const std::string& entry : request.build.attest) commands.ignored.push_back("attest " + entry);
  for (const auto& file : request.build.bake_files) commands.ignored.push_back("bake file " + file.string());

  const std::string reference = spec.tags.empty() ? "latest" : tag_of(spec.tags.front());
  commands.push = buildah({"manifest", "push", "--all", "--format", "oci", manifest_name,
                           "oci:" + layout.string() + ":" + reference});
  commands.remove = buildah({"manifest", "rm", manifest_name});
  return commands;
}

std::vector<BuiltImage> build_with_buildah(const Request& request) {
  std::vector<BuiltImage> images;
  const auto layouts = layout_dirs(request);

  for (const TargetSpec& spec : request.targets) {
    const std::string& name = target_of(spec).name;
    const std::filesystem::path& layout = layouts.at(name);
    // The oci: transport reads the first ':' after the path as the start of
    // the reference name.
    if (layout.string().find(':') != std::string::npos) {
      throw Fatal(ExitCode::build_failed, "the layout directory " + layout.string() +
                                              " contains ':', which buildah cannot write to; choose a work directory without ':'");
    }
    make_fresh_dir(layout);

    const BuildahCommands commands = buildah_commands(request, spec, unique_manifest_name(name), layout);
    if (!commands.ignored.empty()) {
      std::cerr << "warning: buildah cannot apply these settings of target \"" << name
                << "\", so they are left out: " << join(commands.ignored, "; ") << std::endl;
    }

    int exit_code = run_streamed(commands.build, request.github_actions);
    if (exit_code == 0) exit_code = run_streamed(commands.push, request.github_actions);
    remove_manifest(commands.remove);
    if (exit_code != 0) {
      throw Fatal(ExitCode::build_failed, "buildah failed to build target \"" + name + "\" (exit code " +
                                              std::to_string(exit_code) + "); the build output above shows why");
    }
    images.push_back({name, layout, layout_index_digest(layout)});
  }
  return images;
}

}  // namespace multipush::build::detail
