#include "cli/app.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <set>
#include <string_view>

#include "cli/commands.hpp"
#include "multipush/util/env.hpp"

namespace multipush::cli {
namespace {

constexpr std::array<std::string_view, 7> kDockerGlobalsWithValue = {
    "--config", "-c", "--context", "-H", "--host", "-l", "--log-level"};
constexpr std::array<std::string_view, 3> kDockerTlsWithValue = {"--tlscacert", "--tlscert", "--tlskey"};
constexpr std::array<std::string_view, 4> kDockerBooleans = {"-D", "--debug", "--tls", "--tlsverify"};

bool takes_value(std::string_view name) {
  return std::find(kDockerGlobalsWithValue.begin(), kDockerGlobalsWithValue.end(), name) !=
             kDockerGlobalsWithValue.end() ||
         std::find(kDockerTlsWithValue.begin(), kDockerTlsWithValue.end(), name) != kDockerTlsWithValue.end();
}

bool is_boolean(std::string_view name) {
  return std::find(kDockerBooleans.begin(), kDockerBooleans.end(), name) != kDockerBooleans.end();
}

constexpr const char* kExitCodes =
    "Exit codes:\n"
    "  0    everything asked for was done (also a pull-request run that pushed nothing, and --dry-run)\n"
    "  1    unexpected internal error\n"
    "  2    usage or configuration error, or a computed tag that is not a valid tag\n"
    "  3    build failed\n"
    "  4    pushed to some registries, failed on others\n"
    "  5    nothing pushed: every registry failed or rejected the credentials\n"
    "  6    verification found a registry serving a different digest than was pushed\n"
    "  130  interrupted; running the same command again completes the job\n";

const std::set<std::string, std::less<>> kCommands = {"run", "meta", "build", "push", "mirror", "verify", "log", "version"};

// Shared options that take a value, so that the first positional argument
// (the command name, or a target of the default `run` command) can be found.
const std::set<std::string, std::less<>> kSharedWithValue = {
    "-f", "--file", "--push", "--progress", "--metadata-file", "--log-dir",
    "--image", "--context", "--dockerfile", "--platform"};

// Inserts "run" when no command is named: `docker multipush` and
// `docker multipush server web` both run the whole pipeline.
std::vector<std::string> insert_default_command(std::vector<std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") return args;
    if (!arg.empty() && arg[0] == '-') {
      if (arg.find('=') == std::string::npos && kSharedWithValue.contains(arg)) ++i;
      continue;
    }
    if (kCommands.contains(arg)) return args;
    break;
  }
  args.insert(args.begin(), "run");
  return args;
}

void add_shared_options(CLI::App& app, pipeline::Options& options, std::string& push_mode) {
  app.add_option("-f,--file", options.file,
                 "Config file (default: $MULTIPUSH_CONFIG, ./multipush.yaml, ./.github/multipush.yaml)");
  app.add_flag("--dry-run", options.dry_run, "Print the plan (targets, platforms, registries, tags) and stop");
  app.add_option("--push", push_mode,
                 "When to push: auto (never on pull-request events), always, never (default: push.when)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_option("--progress", options.progress, "Progress output: auto, tty, plain, quiet or json")
      ->check(CLI::IsMember({"auto", "tty", "plain", "quiet", "json"}));
  app.add_option("--metadata-file", options.metadata_file, "Write the result per target as JSON to this file");
  app.add_option("--log-dir", options.log_dir, "Run log directory (default: log.dir, or ./.multipush/runs)");
  app.add_flag("--debug", options.debug, "Write a debug log to stderr");
  app.add_flag("--skip-preflight", options.skip_preflight,
               "Skip the check that each registry accepts the credentials for push before building");
  app.add_option("--image", options.overrides.images,
                 "Without a config file: image reference to push to (repeatable)");
  app.add_option("--context", options.overrides.context, "Without a config file: build context (default: .)");
  app.add_option("--dockerfile", options.overrides.dockerfile,
                 "Without a config file: Dockerfile (default: CONTEXT/Dockerfile)");
  app.add_option("--platform", options.overrides.platforms,
                 "Platforms to build, comma-separated or repeated (default: linux/amd64,linux/arm64)")
      ->delimiter(',');
}

}  // namespace

namespace {

// Takes docker global options from the front of `args` and returns how many
// tokens they used. With `plugin_mode` false, `--context` is left alone,
// because standalone it is the plugin's own build-context option.
size_t take_globals(const std::vector<std::string>& args, bool plugin_mode, pipeline::DockerGlobals& globals) {
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    if (!plugin_mode && name == "--context") break;
    if (takes_value(name)) {
      globals.args.push_back(arg);
      std::string value;
      if (equals != std::string::npos) {
        value = arg.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
        globals.args.push_back(value);
      }
      if (name == "--config") globals.config_dir = value;
      continue;
    }
    if (is_boolean(name)) {
      globals.args.push_back(arg);
      if (name == "-D" || name == "--debug") globals.debug = true;
      continue;
    }
    break;
  }
  return i;
}

}  // namespace

std::pair<pipeline::DockerGlobals, std::vector<std::string>> split_docker_globals(
    const std::vector<std::string>& args) {
  // Run by the docker CLI, the arguments are docker's global options, then
  // the plugin name, then the plugin's own arguments.
  pipeline::DockerGlobals globals;
  size_t used = take_globals(args, /*plugin_mode=*/true, globals);
  if (used < args.size() && args[used] == "multipush") {
    return {globals, std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(used) + 1, args.end())};
  }
  // Standalone: only the leading docker options that the plugin does not
  // define itself.
  globals = {};
  used = take_globals(args, /*plugin_mode=*/false, globals);
  return {globals, std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(used), args.end())};
}

ExitCode run(const std::vector<std::string>& raw_args) {
  auto [globals, args] = split_docker_globals(raw_args);
  // `docker help multipush` runs the plugin with `help multipush`.
  if (!args.empty() && args[0] == "help") args = {"--help"};
  args = insert_default_command(args);

  pipeline::Options options;
  options.docker = globals;
  options.debug = globals.debug;
  options.cwd = std::filesystem::current_path();
  std::string push_mode;

  const bool as_plugin = util::get_env("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND").has_value();
  CLI::App app{"Build a multi-platform image once and push it to every registry.",
               as_plugin ? "docker multipush" : "docker-multipush"};
  app.footer(kExitCodes);
  app.require_subcommand(1, 1);
  add_shared_options(app, options, push_mode);

  std::function<ExitCode()> action;
  CommandContext context{options, action};
  add_run_command(app, context);
  add_meta_command(app, context);
  add_build_command(app, context);
  add_push_command(app, context);
  add_mirror_command(app, context);
  add_verify_command(app, context);
  add_log_command(app, context);
  add_version_command(app, context);
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->fallthrough();

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp& help) {
    app.exit(help);
    return ExitCode::ok;
  } catch (const CLI::CallForAllHelp& help) {
    app.exit(help);
    return ExitCode::ok;
  } catch (const CLI::ParseError& error) {
    throw UsageError(std::string(error.what()) + "; run with --help for usage");
  }

  if (push_mode == "auto") options.push = config::PushWhen::automatic;
  if (push_mode == "always") options.push = config::PushWhen::always;
  if (push_mode == "never") options.push = config::PushWhen::never;
  if (!action) throw UsageError("no command given; run with --help for usage");
  return action();
}

}  // namespace multipush::cli
