#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "multipush/pipeline/pipeline.hpp"

namespace multipush::cli {

void add_log_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("log", "List recent runs, or print the events of one run");
  auto run_id = std::make_shared<std::optional<std::string>>();
  command->add_option("run", *run_id, "Run id as listed by `log` (default: list the runs)");
  command->callback([&context, run_id] {
    context.action = [&context, run_id] { return pipeline::show_log(context.options, *run_id); };
  });
}

}  // namespace multipush::cli
