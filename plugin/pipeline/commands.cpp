// The commands that run part of the pipeline: build, verify and log.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "multipush/pipeline/pipeline.hpp"
#include "multipush/util/env.hpp"
#include "multipush/report/run_log.hpp"
#include "pipeline/build_record.hpp"
#include "pipeline/common.hpp"
#include "pipeline/steps.hpp"

namespace multipush::pipeline {
namespace {

std::string run_status(const std::filesystem::path& file) {
  std::ifstream input(file);
  std::string line;
  std::string status = "running or interrupted";
  while (std::getline(input, line)) {
    auto event = nlohmann::json::parse(line, nullptr, false);
    if (event.is_discarded() || event.value("event", "") != "run_end") continue;
    status = fmt::format("{} (exit {})", event.value("status", "?"), event.value("exit_code", -1));
  }
  return status;
}

// Moves a built OCI layout to `destination`, replacing what is there. A
// layout on another file system is copied, then the original is removed.
std::filesystem::path move_layout(const std::filesystem::path& layout, const std::filesystem::path& destination) {
  namespace fs = std::filesystem;
  const fs::path target = fs::absolute(destination);
  std::error_code error;
  fs::remove_all(target, error);
  fs::create_directories(target.parent_path(), error);
  fs::rename(layout, target, error);
  if (!error) return target;
  if (error != std::errc::cross_device_link) {
    throw Fatal(ExitCode::internal, fmt::format("cannot move the OCI layout {} to {}: {}; check that --layout "
                                                "names a writable directory",
                                                layout.string(), target.string(), error.message()));
  }
  fs::copy(layout, target, fs::copy_options::recursive, error);
  if (error) {
    throw Fatal(ExitCode::internal, fmt::format("cannot copy the OCI layout {} to {}: {}; check that --layout "
                                                "names a writable directory with enough free space",
                                                layout.string(), target.string(), error.message()));
  }
  fs::remove_all(layout, error);
  return target;
}

// Records each built target so that `push TARGET...` finds its layout.
void record_build(const Plan& plan, const std::vector<build::BuiltImage>& images) {
  const std::string now = report::format_time(std::chrono::system_clock::now());
  BuildRecord built;
  for (const auto& image : images) {
    built[image.target] = {std::filesystem::absolute(image.layout), image.digest, plan.config.digest,
                           plan.context.sha, plan.context.ref, now};
  }
  update_build_record(build_record_path(plan.config.base_dir), built);
}

}  // namespace

ExitCode build(const Options& options, bool print_definition, const std::filesystem::path& layout_dir) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  Plan plan = make_plan(options);
  if (print_definition) {
    std::map<std::string, std::filesystem::path> layouts;
    std::filesystem::path work_dir = std::filesystem::temp_directory_path() / "multipush-print";
    for (const auto& target : plan.targets) layouts[target.target->name] = work_dir / "layouts" / target.target->name;
    printer.result(build::bake_definition(build_request(plan, options, work_dir), layouts).dump(2));
    return ExitCode::ok;
  }
  if (options.dry_run) {
    printer.result(describe_plan(plan));
    return ExitCode::ok;
  }
  std::string run_id = fmt::format("build-{}", std::chrono::system_clock::now().time_since_epoch().count());
  WorkDir work_dir(run_id);
  work_dir.keep();
  printer.step("Building");
  auto images = build::build(build_request(plan, options, work_dir.path()));
  printer.end_step();
  if (!layout_dir.empty()) {
    for (auto& image : images) image.layout = move_layout(image.layout, options.cwd / layout_dir / image.target);
  }
  record_build(plan, images);
  nlohmann::json metadata = nlohmann::json::object();
  std::string lines;
  for (const auto& image : images) {
    metadata[image.target] = {{"digest", image.digest}, {"layout", image.layout.string()}};
    lines += fmt::format("{}: {} (OCI layout in {})\n", image.target, image.digest, image.layout.string());
  }
  if (options.metadata_file) report::write_metadata_file(*options.metadata_file, metadata);
  lines += fmt::format("Recorded in {}; `docker multipush push` pushes these layouts.\n",
                       build_record_path(plan.config.base_dir).string());
  printer.summary(lines);
  return ExitCode::ok;
}

ExitCode verify(const Options& options) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  Plan plan = make_plan(options);
  Clients clients = open_clients(plan, options);
  bool mismatch = false;
  std::string lines;
  for (const auto& target : plan.targets) {
    // Without a run to compare with, the first registry's first tag sets the
    // digest that every other tag must resolve to.
    std::string expected;
    for (const auto& destination : target.destinations) {
      if (destination.tags.empty()) continue;
      auto& client = *clients.at(destination.registry);
      if (expected.empty()) {
        auto head = client.head_manifest(destination.repository.repository, destination.tags.front());
        if (head && *head) expected = **head;
      }
      for (const auto& check :
           verify::verify_destination(client, destination.repository.repository, destination.tags, expected)) {
        if (!check.ok) mismatch = true;
        lines += fmt::format("{:<10} {}:{} {} {}\n", target.target->name, destination.repository.name(), check.tag,
                             check.actual_digest.empty() ? "(missing)" : check.actual_digest,
                             check.ok ? "ok" : (check.error.empty() ? "MISMATCH" : check.error));
      }
    }
  }
  printer.summary(lines.empty() ? "No tags to verify.\n" : lines);
  return mismatch ? ExitCode::verify_failed : ExitCode::ok;
}

ExitCode show_log(const Options& options, const std::optional<std::string>& run_id) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  std::filesystem::path dir;
  if (options.log_dir) {
    dir = std::filesystem::absolute(*options.log_dir);
  } else if (auto file = config::find_config(options.file, options.cwd)) {
    dir = config::load_config(*file).log.dir;
  } else {
    dir = options.cwd / ".multipush" / "runs";
  }
  if (!run_id) {
    std::string text;
    for (const auto& file : report::list_runs(dir)) {
      text += fmt::format("{}  {}\n", file.stem().string(), run_status(file));
    }
    printer.result(text.empty() ? fmt::format("No runs in {}\n", dir.string()) : text);
    return ExitCode::ok;
  }
  std::filesystem::path file = dir / (*run_id + ".jsonl");
  std::ifstream input(file);
  if (!input) throw UsageError(fmt::format("run \"{}\" not found in {}; run `docker multipush log` to list runs", *run_id, dir.string()));
  std::string text((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  printer.result(text);
  return ExitCode::ok;
}

}  // namespace multipush::pipeline
