#pragma once

// The record that `build` keeps of what it built, so that a later
// `push TARGET...` finds each target's OCI layout without building again.

#include <filesystem>
#include <map>
#include <string>

namespace multipush::pipeline {

// One target as `build` left it.
struct BuiltTarget {
  std::filesystem::path layout;  // absolute path of the OCI layout directory
  std::string digest;            // digest of the image's root (index) in that layout
  std::string config_digest;     // sha256 of multipush.yaml when it was built; empty without a config file
  std::string sha;               // commit the tags and labels were computed from
  std::string ref;               // ref the tags were computed from, "refs/tags/v1.2.3"
  std::string built_at;          // RFC 3339 UTC
};

// Target name to its latest build.
using BuildRecord = std::map<std::string, BuiltTarget>;

// Path of the record: `.multipush/build.json` in `base_dir`, the directory of
// multipush.yaml (or the current directory without a config file).
std::filesystem::path build_record_path(const std::filesystem::path& base_dir);

// Reads the record at `path`. A missing file gives an empty record. Throws
// UsageError, naming the file, when it is not a record this version wrote.
BuildRecord read_build_record(const std::filesystem::path& path);

// Replaces the entries of the targets in `built` and keeps every other
// target's entry. The file is written to a temporary name and renamed, so a
// reader never sees half a file.
// NOTE: two builds that finish at the same moment can each drop the
// other's entries, because the last rename wins.
void update_build_record(const std::filesystem::path& path, const BuildRecord& built);

}  // namespace multipush::pipeline
