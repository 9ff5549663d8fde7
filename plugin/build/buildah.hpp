#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "multipush/build/build.hpp"

// The buildah backend, for machines without docker buildx.
namespace multipush::build::detail {

struct BuildahCommands {
  std::vector<std::string> build;          // buildah build ... --manifest NAME ... CONTEXT
  std::vector<std::string> push;           // buildah manifest push --all NAME oci:LAYOUT:REF
  std::vector<std::string> remove;         // buildah manifest rm NAME
  std::vector<std::string> ignored;        // settings buildah 1.28 cannot apply, for a warning
};

// Returns the buildah commands that build `spec` for all its platforms into
// the manifest list `manifest_name` and write it to `layout`.
BuildahCommands buildah_commands(const Request& request, const TargetSpec& spec,
                                 const std::string& manifest_name, const std::filesystem::path& layout);

// Builds every target with buildah (see build()).
std::vector<BuiltImage> build_with_buildah(const Request& request);

}  // namespace multipush::build::detail
