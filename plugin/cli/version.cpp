#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.hpp"
#include "multipush/version.hpp"

namespace multipush::cli {

void add_version_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("version", "Print the version, commit and build date");
  command->callback([&context] {
    context.action = [] {
      std::printf("docker-multipush v%s (commit %s, built %s)\n", kVersion, kGitCommit, kBuildDate);
      return ExitCode::ok;
    };
  });
}

}  // namespace multipush::cli
