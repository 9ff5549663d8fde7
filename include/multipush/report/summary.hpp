#pragma once

#include <string>
#include <vector>

namespace multipush::report {

// The result for one target on one registry.
struct Outcome {
  std::string target;
  std::string registry;    // host[:port]
  std::string repository;  // path under the registry: "openim/openkf-server"
  std::vector<std::string> tags;
  std::string digest;  // "sha256:...", or empty when nothing was pushed
  std::string status;  // "pushed", "failed", "not pushed", "verified", "digest mismatch", "dry run"
  std::string error;   // empty unless the step failed
  std::string note{};  // why this registry's digest differs, e.g. attestations dropped
};

// The whole run, as reported at the end and sent in notifications.
struct RunSummary {
  std::string run_id;
  std::string status;  // "success", "partial", "failed", "build failed", "interrupted", ...
  int exit_code = 0;
  std::vector<Outcome> outcomes;
  std::vector<std::string> failed_targets;
  std::vector<std::string> failed_registries;
  std::string repository;  // "acme/app" in GitHub Actions, else empty
  std::string ref;         // "refs/tags/v1.2.3"
  std::string sha;
  std::string run_url;  // link to the CI run, empty outside CI
  double seconds = 0;
};

// Returns true for the outcome statuses that count as failures: "failed"
// and "digest mismatch".
bool is_failed_status(const std::string& status);

// Returns the summary printed at the end of a run: a result line, a table
// with aligned columns TARGET REGISTRY TAGS DIGEST STATUS (digests cut to 12
// hex digits), and the error of every failed outcome.
std::string summary_table(const RunSummary& summary);

// Returns the same summary as GitHub-flavoured Markdown for the step
// summary, with full digests and the run's repository, ref and link.
std::string summary_markdown(const RunSummary& summary);

}  // namespace multipush::report
