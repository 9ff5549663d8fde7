// The mode without a config file, and command-line options over a loaded file.

#include <set>

#include "config/paths.hpp"
#include "multipush/config/config.hpp"
#include "multipush/util/error.hpp"

namespace multipush::config {

namespace {

// Returns the --platform values, each of which may hold a comma-separated list.
std::vector<std::string> split_platforms(const std::vector<std::string>& values) {
  std::vector<std::string> result;
  std::set<std::string> seen;
  for (const std::string& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      auto comma = value.find(',', start);
      std::string platform = value.substr(start, comma == std::string::npos ? comma : comma - start);
      if (!platform.empty()) {
        if (!is_valid_platform(platform)) {
          throw UsageError("--platform: invalid platform \"" + platform +
                           "\"; write os/arch[/variant] in lower case, such as linux/amd64 or linux/arm/v7");
        }
        if (seen.insert(platform).second) result.push_back(platform);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return result;
}

}  // namespace

Config config_from_overrides(const Overrides& overrides, const std::filesystem::path& cwd) {
  if (overrides.images.empty()) {
    throw UsageError("no image to push: there is no multipush.yaml and no --image was given; pass --image REF "
                     "(repeatable, such as --image ghcr.io/acme/app), or write a multipush.yaml "
                     "(docker multipush init creates one)");
  }

  Config config;
  config.base_dir = cwd;
  config.log.dir = cwd / ".multipush" / "runs";
  if (auto platforms = split_platforms(overrides.platforms); !platforms.empty()) config.platforms = platforms;

  Target target;
  target.name = "default";
  target.context = resolve_path(cwd, overrides.context.value_or("."));
  // As `docker build` does, the default Dockerfile is inside the context.
  target.dockerfile = overrides.dockerfile ? resolve_path(cwd, *overrides.dockerfile) : target.context / "Dockerfile";
  target.platforms = config.platforms;

  std::set<std::string> names;
  for (const std::string& text : overrides.images) {
    auto reference = ref::parse(text, /*lower_case=*/true);
    if (!reference) throw UsageError("--image: " + reference.error());
    if (reference->tag || reference->digest) {
      throw UsageError("--image \"" + text + "\" carries a tag or digest; pass \"" + reference->name() +
                       "\", since tags come from the tag rules");
    }
    if (!names.insert(reference->name()).second) continue;
    target.images.push_back(ImageRef{*reference, Location{}});
    if (!config.find_registry(reference->registry)) {
      Registry registry;
      registry.host = reference->registry;
      config.registries.push_back(std::move(registry));
    }
  }
  target.image = target.images.front().reference.repository;
  config.targets.push_back(std::move(target));
  return config;
}

void apply_overrides(Config& config, const Overrides& overrides) {
  if (!overrides.images.empty() || overrides.context || overrides.dockerfile) {
    std::string file = config.file ? config.file->string() : std::string("the config file");
    throw UsageError("--image, --context and --dockerfile describe a target only when there is no config file; " +
                     file + " defines the targets, so change them there, or run from a directory without one");
  }
  auto platforms = split_platforms(overrides.platforms);
  if (platforms.empty()) return;
  config.platforms = platforms;
  for (Target& target : config.targets) target.platforms = platforms;
}

}  // namespace multipush::config
