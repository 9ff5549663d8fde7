#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/build/build.hpp"

// Pieces of the buildx backend that tests reach directly.
namespace multipush::build::detail {

struct BuildxVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string text;  // the version word as printed, "v0.10.5" or "v0.20.0-rc1"

  bool at_least(int want_major, int want_minor) const {
    return major != want_major ? major > want_major : minor >= want_minor;
  }
};

// Parses the output of `docker buildx version`
// ("github.com/docker/buildx v0.10.5 86bdced"). Returns std::nullopt when no
// release number is printed, as with development builds that print a commit
// ("v0.0.0+unknown" or a bare hash).
std::optional<BuildxVersion> parse_buildx_version(std::string_view output);

// Decides whether `buildx bake` accepts `--allow`: from the version when it is
// a release, otherwise from whether `bake_help` (the output of
// `docker buildx bake --help`) lists the flag.
bool supports_allow_flag(const std::optional<BuildxVersion>& version, std::string_view bake_help);

struct BuilderNode {
  std::string name;
  std::string status;
  std::vector<std::string> platforms;          // without the `*` marker
  std::map<std::string, std::string> labels;   // worker labels
};

struct BuilderInfo {
  std::string name;
  std::string driver;
  std::vector<BuilderNode> nodes;
};

// Parses the text of `docker buildx inspect` (both the `Buildkit:` layout of
// buildx 0.10 and the `BuildKit version:` layout of later releases).
BuilderInfo parse_buildx_inspect(std::string_view text);

// Returns the platform in the canonical form used for comparison:
// "linux/arm64/v8" becomes "linux/arm64", "linux/amd64/v1" becomes
// "linux/amd64" and "linux/arm" becomes "linux/arm/v7", as containerd does.
std::string normalize_platform(std::string_view platform);

// Returns the platforms of `requested` that no node of `builder` lists.
std::vector<std::string> missing_platforms(const BuilderInfo& builder,
                                           const std::vector<std::string>& requested);

// Returns the reason, with the fix, why `builder` cannot build the request,
// or std::nullopt when it can.
std::optional<std::string> builder_problem(const BuilderInfo& builder,
                                           const std::vector<std::string>& requested);

struct BakeInvocation {
  std::filesystem::path definition_file;       // the generated bake JSON
  std::filesystem::path metadata_file;
  std::vector<std::filesystem::path> write_dirs;  // layouts, granted with --allow fs.write=
  std::vector<std::filesystem::path> read_dirs;   // contexts outside the working directory
  bool allow_flag = false;                     // whether the installed buildx accepts --allow
};

// Returns the argv of `docker [globals] buildx bake`: the user's bake files
// first and the generated one last, so that ours wins on merged keys.
std::vector<std::string> bake_command(const Request& request, const BakeInvocation& invocation);

// Returns the image index digest that buildx wrote for `target` into the
// metadata file. Throws Fatal(build_failed) when the key is missing.
std::string metadata_digest(const nlohmann::json& metadata, const std::string& target,
                            const std::filesystem::path& metadata_file);

}  // namespace multipush::build::detail
