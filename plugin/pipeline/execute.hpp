#pragma once

// What `run` and `push TARGET...` share: everything after the plan except
// where the images come from.

#include <functional>
#include <vector>

#include "multipush/build/build.hpp"
#include "multipush/output/printer.hpp"
#include "multipush/pipeline/options.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/util/error.hpp"
#include "pipeline/plan.hpp"

namespace multipush::pipeline {

// Returns one image per target of the plan, in plan order. An empty result
// means the build failed and was already reported. It is called after the
// preflight, also when the plan does not push.
using ImageSource = std::function<std::vector<build::BuiltImage>(output::Printer&, report::RunLog&)>;

// Runs a plan after its tags are computed. It writes run_start and the
// tags to `log`, opens the registry clients and runs the preflight when the
// plan pushes. Then it gets the images from `images`, pushes them to every
// registry at once and verifies them. Last it writes the summary, metadata
// file, GitHub outputs, notifications and run_end. `command` names the
// command in run_start ("run", "push").
// Returns the exit code of the run, ExitCode::interrupted after SIGINT or
// SIGTERM. A Fatal is reported in the log and notifications, then rethrown.
ExitCode execute_plan(const Plan& plan, const Options& options, const std::string& command,
                      output::Printer& printer, report::RunLog& log, const ImageSource& images);

// Pushes the OCI layouts of the targets of multipush.yaml: from
// `layout_dir/<target>/` when `layout_dir` is set, else as the build record
// names them. Rejects a target without a usable layout, naming the fix.
ExitCode push_built(const Options& options, const std::filesystem::path& layout_dir, const std::string& ref_name);

}  // namespace multipush::pipeline
