// Backend choice and the buildx build path.
#include "multipush/build/build.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "build/buildah.hpp"
#include "build/buildx.hpp"
#include "build/common.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

namespace multipush::build {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> docker_buildx(const Request& request, std::initializer_list<std::string> args) {
  std::vector<std::string> argv{request.docker_command};
  argv.insert(argv.end(), request.docker_global_args.begin(), request.docker_global_args.end());
  argv.push_back("buildx");
  argv.insert(argv.end(), args);
  return argv;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "no output" : line;
}

struct BuildxProbe {
  bool available = false;
  std::string output;  // `docker buildx version` stdout, or why it failed
};

BuildxProbe probe_buildx(const Request& request) {
  util::ProcessOptions options;
  options.timeout = 60s;
  auto result = util::run_process(docker_buildx(request, {"version"}), options);
  if (!result) return {false, request.docker_command + " was not found on PATH"};
  if (result->timed_out) return {false, "`docker buildx version` timed out after 60 s"};
  if (result->exit_code != 0) {
    return {false, "`docker buildx version` exited with code " + std::to_string(result->exit_code) + ": " +
                       first_line(result->stderr_text + result->stdout_text)};
  }
  return {true, result->stdout_text};
}

bool allow_flag_supported(const Request& request, const std::string& version_output) {
  auto version = detail::parse_buildx_version(version_output);
  if (version) return detail::supports_allow_flag(version, {});

  util::ProcessOptions options;
  options.timeout = 60s;
  auto help = util::run_process(docker_buildx(request, {"bake", "--help"}), options);
  return help && help->exit_code == 0 && detail::supports_allow_flag(std::nullopt, help->stdout_text);
}

std::vector<std::string> requested_platforms(const Request& request) {
  std::vector<std::string> platforms;
  for (const TargetSpec& spec : request.targets) {
    for (const std::string& platform : detail::target_of(spec).platforms) {
      if (std::find(platforms.begin(), platforms.end(), platform) == platforms.end()) platforms.push_back(platform);
    }
  }
  return platforms;
}

bool is_within(const std::filesystem::path& path, const std::filesystem::path& dir) {
  const auto relative = std::filesystem::weakly_canonical(path).lexically_relative(std::filesystem::weakly_canonical(dir));
  return !relative.empty() && *relative.begin() != "..";
}

// Returns the contexts and Dockerfile directories that lie outside the
// working directory of the bake process: buildx 0.20 and later read them
// only with an `fs.read` grant.
std::vector<std::filesystem::path> read_grants(const Request& request) {
  const auto cwd = std::filesystem::current_path();
  std::vector<std::filesystem::path> dirs;
  auto add = [&](const std::filesystem::path& dir) {
    if (is_within(dir, cwd)) return;
    for (const auto& known : dirs) {
      if (is_within(dir, known)) return;
    }
    dirs.push_back(dir);
  };
  for (const TargetSpec& spec : request.targets) {
    const config::Target& target = detail::target_of(spec);
    add(target.context);
    if (!is_within(target.dockerfile, target.context)) add(target.dockerfile.parent_path());
  }
  return dirs;
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    throw Fatal(ExitCode::build_failed, "cannot write " + file.string() + "; check that the work directory is writable");
  }
}

nlohmann::json read_metadata(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Fatal(ExitCode::build_failed, "buildx wrote no metadata file " + file.string() +
                                            "; see the build output above");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto metadata = nlohmann::json::parse(text.str(), nullptr, false);
  if (metadata.is_discarded()) {
    throw Fatal(ExitCode::build_failed, "the buildx metadata file " + file.string() + " is not valid JSON");
  }
  return metadata;
}

std::vector<BuiltImage> build_with_buildx(const Request& request, const std::string& version_output) {
  check_platforms(request);

  const auto layouts = detail::layout_dirs(request);
  for (const auto& [name, dir] : layouts) detail::make_fresh_dir(dir);

  detail::BakeInvocation invocation;
  invocation.definition_file = request.work_dir / "bake.json";
  invocation.metadata_file = request.work_dir / "bake-metadata.json";
  invocation.allow_flag = allow_flag_supported(request, version_output);
  for (const auto& [name, dir] : layouts) invocation.write_dirs.push_back(dir);
  invocation.read_dirs = read_grants(request);

  write_file(invocation.definition_file, bake_definition(request, layouts).dump(2) + "\n");
  std::error_code ignored;
  std::filesystem::remove(invocation.metadata_file, ignored);

  const int exit_code = detail::run_streamed(detail::bake_command(request, invocation), request.github_actions);
  if (exit_code != 0) {
    throw Fatal(ExitCode::build_failed, "docker buildx bake failed with exit code " + std::to_string(exit_code) +
                                            "; the build output above shows why. The bake definition is " +
                                            invocation.definition_file.string());
  }

  const nlohmann::json metadata = read_metadata(invocation.metadata_file);
  std::vector<BuiltImage> images;
  for (const TargetSpec& spec : request.targets) {
    const std::string& name = detail::target_of(spec).name;
    const std::string digest = detail::metadata_digest(metadata, name, invocation.metadata_file);
    // A layout may hold one entry per image name; the digest picks ours.
    detail::layout_index_digest(layouts.at(name), digest);
    images.push_back({name, layouts.at(name), digest});
  }
  return images;
}

// Chooses the backend as choose_backend() does and stores the output of
// `docker buildx version` in `version_output` when buildx is chosen.
Backend select_backend(const Request& request, std::string& version_output) {
  const config::Builder builder = request.build.builder;
  if (builder == config::Builder::buildah) {
    if (!util::find_program("buildah")) {
      throw Fatal(ExitCode::build_failed,
                  "build.builder is buildah, but buildah was not found on PATH; install buildah or set build.builder to auto");
    }
    return Backend::buildah;
  }

  const BuildxProbe probe = probe_buildx(request);
  if (probe.available) {
    version_output = probe.output;
    return Backend::buildx;
  }
  if (builder == config::Builder::buildx) {
    throw Fatal(ExitCode::build_failed,
                "build.builder is buildx, but docker buildx cannot be run (" + output::redact(probe.output) +
                    "); install the docker-buildx plugin, or set build.builder to auto to fall back to buildah");
  }
  if (!util::find_program("buildah")) {
    throw Fatal(ExitCode::build_failed, "no image builder found: docker buildx cannot be run (" +
                                            output::redact(probe.output) +
                                            ") and buildah is not on PATH; install docker-buildx or buildah");
  }
  return Backend::buildah;
}

}  // namespace

Backend choose_backend(const Request& request) {
  std::string version_output;
  return select_backend(request, version_output);
}

void check_platforms(const Request& request) {
  util::ProcessOptions options;
  options.timeout = 180s;  // --bootstrap may start a docker-container builder and pull its image
  const auto argv = docker_buildx(request, {"inspect", "--bootstrap"});
  auto result = util::run_process(argv, options);
  if (!result || result->timed_out || result->exit_code != 0) {
    std::string reason = !result ? request.docker_command + " was not found on PATH"
                         : result->timed_out ? std::string("timed out after 180 s")
                                             : "exit code " + std::to_string(result->exit_code) + ": " +
                                                   first_line(result->stderr_text + result->stdout_text);
    throw Fatal(ExitCode::build_failed, "`docker buildx inspect --bootstrap` failed (" + output::redact(reason) +
                                            "); list builders with `docker buildx ls` and select one with "
                                            "`docker buildx use NAME` or BUILDX_BUILDER");
  }

  auto problem = detail::builder_problem(detail::parse_buildx_inspect(result->stdout_text), requested_platforms(request));
  if (problem) throw Fatal(ExitCode::build_failed, *problem);
}

std::vector<BuiltImage> build(const Request& request) {
  if (request.targets.empty()) return {};
  // The bake file and the builders run with their own working directories,
  // so every path handed to them is absolute.
  Request absolute = request;
  absolute.work_dir = std::filesystem::absolute(request.work_dir);
  std::error_code error;
  std::filesystem::create_directories(absolute.work_dir, error);
  if (error) {
    throw Fatal(ExitCode::build_failed, "cannot create the work directory " + absolute.work_dir.string() + ": " +
                                            error.message());
  }

  std::string version_output;
  if (select_backend(absolute, version_output) == Backend::buildx) return build_with_buildx(absolute, version_output);
  return detail::build_with_buildah(absolute);
}

}  // namespace multipush::build
