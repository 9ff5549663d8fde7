#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace multipush::report {

// Writes the --metadata-file: `metadata` as indented JSON, replacing the
// file in one rename. Creates missing parent directories. Throws UsageError
// naming the path when it cannot be written.
void write_metadata_file(const std::filesystem::path& path, const nlohmann::json& metadata);

// Appends each (name, value) to the file named by $GITHUB_OUTPUT as
// `name<<DELIMITER`, value, `DELIMITER`, with a random delimiter that does not
// occur in the value. Values are redacted. Does nothing when GITHUB_OUTPUT
// is unset. Throws Fatal when a name is empty or contains "<<", "=" or a line
// break, or when the file cannot be written.
void write_github_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

// Appends `markdown` (redacted, ending in a newline) to the file named by
// $GITHUB_STEP_SUMMARY. Text beyond 1 MiB, the runner's limit for one step,
// is cut with a note. Does nothing when GITHUB_STEP_SUMMARY is unset. Throws
// Fatal when the file cannot be written.
void append_step_summary(const std::string& markdown);

}  // namespace multipush::report
