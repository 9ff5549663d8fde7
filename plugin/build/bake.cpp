// The generated bake definition, the `buildx bake` command line and the
// metadata file that bake writes back.
#include <regex>

#include "build/buildx.hpp"
#include "build/common.hpp"
#include "multipush/util/error.hpp"

namespace multipush::build {
namespace {

// Bake reads `output` entries as CSV, so a field holding a comma or a quote is
// quoted with inner quotes doubled, as Go's encoding/csv expects.
std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

nlohmann::json target_definition(const Request& request, const TargetSpec& spec,
                                 const std::filesystem::path& layout) {
  const config::Target& target = detail::target_of(spec);
  nlohmann::json definition;
  // Bake resolves a relative context against its own working directory and
  // joins a relative dockerfile to the context, so both are written absolute.
  definition["context"] = std::filesystem::absolute(target.context).string();
  definition["dockerfile"] = std::filesystem::absolute(target.dockerfile).string();
  if (!target.platforms.empty()) definition["platforms"] = target.platforms;
  if (!target.args.empty()) definition["args"] = target.args;
  if (target.target) definition["target"] = *target.target;

  auto labels = detail::merged_labels(spec);
  if (!labels.empty()) {
    nlohmann::json label_map = nlohmann::json::object();
    for (const auto& [key, value] : labels) label_map[key] = value;
    definition["labels"] = label_map;
  }
  auto annotations = detail::merged_annotations(spec);
  if (!annotations.empty()) definition["annotations"] = annotations;
  if (!spec.tags.empty()) definition["tags"] = spec.tags;

  // CSV strings, not objects: every buildx release reads them, while the
  // object form needs buildx 0.19 or later.
  definition["output"] = nlohmann::json::array(
      {"type=oci," + csv_field("dest=" + layout.string()) + ",tar=false"});
  if (!request.build.cache_from.empty()) definition["cache-from"] = request.build.cache_from;
  if (!request.build.cache_to.empty()) definition["cache-to"] = request.build.cache_to;
  if (!request.build.attest.empty()) definition["attest"] = request.build.attest;
  return definition;
}

}  // namespace

nlohmann::json bake_definition(const Request& request,
                               const std::map<std::string, std::filesystem::path>& layout_dirs) {
  static const std::regex valid_name("[a-zA-Z0-9_-]+");
  nlohmann::json targets = nlohmann::json::object();
  nlohmann::json names = nlohmann::json::array();

  for (const TargetSpec& spec : request.targets) {
    const std::string& name = detail::target_of(spec).name;
    if (!std::regex_match(name, valid_name)) {
      throw UsageError("invalid target name \"" + name +
                       "\": bake accepts only letters, digits, '_' and '-'; rename the target");
    }
    auto layout = layout_dirs.find(name);
    if (layout == layout_dirs.end()) {
      throw Fatal(ExitCode::internal, "no OCI layout directory was assigned to target \"" + name + "\"");
    }
    targets[name] = target_definition(request, spec, layout->second);
    names.push_back(name);
  }

  return {{"group", {{"default", {{"targets", names}}}}}, {"target", targets}};
}

namespace detail {

std::vector<std::string> bake_command(const Request& request, const BakeInvocation& invocation) {
  std::vector<std::string> argv{request.docker_command};
  argv.insert(argv.end(), request.docker_global_args.begin(), request.docker_global_args.end());
  argv.insert(argv.end(), {"buildx", "bake"});

  // Later files win on replaced keys (output, platforms, tags, ...) and are
  // merged last into maps, so the user's files go first.
  for (const std::filesystem::path& file : request.build.bake_files) argv.insert(argv.end(), {"-f", file.string()});
  argv.insert(argv.end(), {"-f", invocation.definition_file.string()});
  argv.insert(argv.end(), {"--metadata-file", invocation.metadata_file.string()});

  if (invocation.allow_flag) {
    for (const auto& dir : invocation.write_dirs) argv.insert(argv.end(), {"--allow", "fs.write=" + dir.string()});
    for (const auto& dir : invocation.read_dirs) argv.insert(argv.end(), {"--allow", "fs.read=" + dir.string()});
  }
  argv.push_back(request.github_actions ? "--progress=plain" : "--progress=auto");

  for (const TargetSpec& spec : request.targets) argv.push_back(target_of(spec).name);
  return argv;
}

std::string metadata_digest(const nlohmann::json& metadata, const std::string& target,
                            const std::filesystem::path& metadata_file) {
  if (metadata.is_object() && metadata.contains(target) && metadata[target].is_object()) {
    const nlohmann::json& entry = metadata[target];
    auto digest = entry.find("containerimage.digest");
    if (digest != entry.end() && digest->is_string()) return digest->get<std::string>();
  }
  throw Fatal(ExitCode::build_failed, "buildx wrote no containerimage.digest for target \"" + target + "\" in " +
                                          metadata_file.string() +
                                          "; check that the target has an OCI output and see the build output above");
}

}  // namespace detail
}  // namespace multipush::build
