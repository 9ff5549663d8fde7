#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "multipush/build/build.hpp"

// Helpers that both backends use.
namespace multipush::build::detail {

// Returns the labels of a target: the tag step's first, then the target's own
// `key=value` entries, which replace a label with the same key.
std::vector<std::pair<std::string, std::string>> merged_labels(const TargetSpec& spec);

// Returns the annotations of a target, the tag step's first, without repeats.
std::vector<std::string> merged_annotations(const TargetSpec& spec);

// Returns the target, throwing Fatal(internal) when the spec has none.
const config::Target& target_of(const TargetSpec& spec);

// Creates an empty directory at `dir`, removing what an earlier attempt left
// there, so that no stale index entries remain in the layout.
void make_fresh_dir(const std::filesystem::path& dir);

// Returns `<work_dir>/layouts/<target>` for every target.
std::map<std::string, std::filesystem::path> layout_dirs(const Request& request);

// Runs `argv` with its stdout and stderr sent to our stderr and stdin closed.
// In GitHub Actions the output is wrapped in ::stop-commands:: so that lines
// printed by a Dockerfile cannot issue workflow commands. Returns the exit
// code. Throws Fatal(build_failed) when the program cannot be started.
int run_streamed(const std::vector<std::string>& argv, bool github_actions);

// Reads `<layout>/index.json` and returns the digest of the entry that is an
// image index, or, when `expected_digest` is set, checks that an entry has it.
// Throws Fatal(build_failed) naming the layout when neither holds.
std::string layout_index_digest(const std::filesystem::path& layout, const std::string& expected_digest = {});

// Returns the tag part of a full reference ("1.2.3" for "ghcr.io/a/b:1.2.3"),
// or "latest" when it has none.
std::string tag_of(const std::string& reference);

}  // namespace multipush::build::detail
