// `push [TARGET...]`: the targets of multipush.yaml, pushed from OCI layouts
// that were built earlier, with the same steps as `run` after its build.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "multipush/oci/layout.hpp"
#include "multipush/report/run_log.hpp"
#include "pipeline/build_record.hpp"
#include "pipeline/common.hpp"
#include "pipeline/execute.hpp"

namespace multipush::pipeline {
namespace {

namespace fs = std::filesystem;

std::string short_sha(const std::string& sha) { return sha.empty() ? "(unknown)" : sha.substr(0, 12); }

// Collects the targets that cannot be pushed, so that one error names all of
// them and one `build` command that fixes them.
struct Problems {
  std::vector<std::string> lines;
  std::vector<std::string> targets;

  void add(const std::string& target, const std::string& line) {
    lines.push_back(line);
    if (targets.empty() || targets.back() != target) targets.push_back(target);
  }

  void throw_if_any(const std::string& fix) const {
    if (lines.empty()) return;
    throw UsageError(fmt::format("{}\n{}", fmt::join(lines, "\n"), fmt::format(fmt::runtime(fix),
                                                                                 fmt::join(targets, " "))));
  }
};

// Finds each planned target in the build record, checks that its layout
// still contains the recorded image, and warns when the commit or the config
// differ from the ones it was built from.
std::vector<build::BuiltImage> images_from_record(const Plan& plan, output::Printer& printer) {
  const fs::path record_path = build_record_path(plan.config.base_dir);
  const BuildRecord record = read_build_record(record_path);
  std::vector<build::BuiltImage> images;
  Problems problems;
  for (const auto& target : plan.targets) {
    const std::string& name = target.target->name;
    const auto entry = record.find(name);
    if (entry == record.end()) {
      problems.add(name, fmt::format("target \"{}\" has no recorded build in {}", name, record_path.string()));
      continue;
    }
    const BuiltTarget& built = entry->second;
    if (!fs::is_directory(built.layout)) {
      problems.add(name, fmt::format("target \"{}\": its OCI layout {} no longer exists", name,
                                     built.layout.string()));
      continue;
    }
    auto image = oci::load_image(built.layout, oci::ImageSelector{built.digest, ""});
    if (!image) {
      problems.add(name, fmt::format("target \"{}\": the OCI layout {} no longer contains the image {} that was "
                                     "built: {}",
                                     name, built.layout.string(), built.digest, image.error()));
      continue;
    }
    if (!plan.context.sha.empty() && !built.sha.empty() && built.sha != plan.context.sha) {
      printer.warning(fmt::format("target \"{}\" was built from commit {}, but the tags are computed for commit "
                                  "{}; run `docker multipush build {}` to push an image of this commit",
                                  name, short_sha(built.sha), short_sha(plan.context.sha), name));
    }
    if (built.config_digest != plan.config.digest) {
      printer.warning(fmt::format("target \"{}\" was built with a different multipush.yaml than the one now in "
                                  "use; run `docker multipush build {}` to build with this one",
                                  name, name));
    }
    images.push_back({name, built.layout, built.digest});
  }
  problems.throw_if_any("run `docker multipush build {}` first, or give --layout DIR with one OCI layout per "
                        "target in DIR/<target>/");
  return images;
}

// Loads the OCI layout of each planned target from `directory/<target>/`.
std::vector<build::BuiltImage> images_from_directory(const Plan& plan, const fs::path& directory,
                                                     const std::string& ref_name) {
  if (!fs::is_directory(directory)) {
    throw UsageError(fmt::format("--layout {}: {}; without --to, --layout names a directory that contains one OCI "
                                 "layout directory per target (DIR/<target>/)",
                                 directory.string(), fs::exists(directory) ? "not a directory" : "no such directory"));
  }
  std::vector<build::BuiltImage> images;
  Problems problems;
  for (const auto& target : plan.targets) {
    const std::string& name = target.target->name;
    const fs::path layout = directory / name;
    if (!fs::is_directory(layout)) {
      std::string hint;
      if (fs::exists(directory / "index.json")) {
        hint = fmt::format(" ({} is itself an OCI layout: move it to {}, or push it with --to REF)",
                           directory.string(), layout.string());
      }
      problems.add(name, fmt::format("target \"{}\": no OCI layout directory {}{}", name, layout.string(), hint));
      continue;
    }
    auto image = oci::load_image(layout, oci::ImageSelector{"", ref_name});
    if (!image) {
      problems.add(name, fmt::format("target \"{}\": {}: {}{}", name, layout.string(), image.error(),
                                     ref_name.empty() ? "; pick the index.json entry with --ref NAME" : ""));
      continue;
    }
    images.push_back({name, layout, image->digest()});
  }
  problems.throw_if_any("write the OCI layout of each of these targets ({}) to its directory under --layout, "
                        "or push the layouts that `docker multipush build` recorded by leaving out --layout");
  return images;
}

std::string describe_layouts(const std::vector<build::BuiltImage>& images) {
  std::string text = "Layouts\n";
  for (const auto& image : images) {
    text += fmt::format("  {}: {} ({})\n", image.target, image.layout.string(), image.digest);
  }
  return text;
}

}  // namespace

ExitCode push_built(const Options& options, const fs::path& layout_dir, const std::string& ref_name) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  Plan plan = make_plan(options);
  for (const auto& warning : plan.context.warnings) printer.warning(warning);

  // Every layout is checked before anything is written, so a missing build
  // ends the command with nothing pushed and no run log.
  const std::vector<build::BuiltImage> images =
      layout_dir.empty() ? images_from_record(plan, printer)
                         : images_from_directory(plan, fs::absolute(options.cwd / layout_dir), ref_name);
  if (options.dry_run) {
    printer.result(describe_plan(plan) + describe_layouts(images));
    return ExitCode::ok;
  }

  report::RunLog log(plan.log_dir, plan.config.log.keep);
  auto source = [&images](output::Printer&, report::RunLog& run_log) {
    for (const auto& image : images) {
      run_log.write("layout", {{"target", image.target},
                               {"layout", image.layout.string()},
                               {"digest", image.digest}});
    }
    return images;
  };
  return execute_plan(plan, options, "push", printer, log, source);
}

}  // namespace multipush::pipeline
