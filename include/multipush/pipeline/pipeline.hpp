#pragma once

#include <optional>
#include <string>

#include "multipush/pipeline/options.hpp"
#include "multipush/util/error.hpp"

namespace multipush::pipeline {

// The whole job: context, tags, build, push to every registry, verify, report.
ExitCode run(const Options& options);

// Tags and build only. With `print_definition`, prints the bake definition
// and builds nothing.
ExitCode build(const Options& options, bool print_definition);

// Reads every tag back from every registry and compares digests.
ExitCode verify(const Options& options);

enum class MetaFormat { text, json, bake };

// Prints tags, labels, annotations and version for every target.
ExitCode meta(const Options& options, MetaFormat format);

// Lists recent runs, or prints one run's events.
ExitCode show_log(const Options& options, const std::optional<std::string>& run_id);

}  // namespace multipush::pipeline
