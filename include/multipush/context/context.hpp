#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace multipush::context {

enum class Source { workflow, git };

// The source of a run: the GitHub Actions event, or the local git checkout.
// The tags module computes tags and labels from this alone.
struct Context {
  Source source = Source::workflow;
  std::string event_name;      // "push", "pull_request", "schedule", ...; git mode: "push"
  std::string ref;             // "refs/heads/main", "refs/tags/v1.2.3", "refs/pull/7/merge"
  std::string sha;             // full commit sha
  std::string repository;      // "owner/name" as given (may be mixed case)
  std::string default_branch;  // payload repository.default_branch; git: origin/HEAD, else "main"
  std::string commit_date;     // RFC 3339, for {{commit_date}}; empty when unknown
  nlohmann::json payload = nlohmann::json::object();  // event payload ({} when none)
  bool github_actions = false;
  // Problems worth telling the user that do not stop the run, such as a
  // build directory that is not a git checkout.
  std::vector<std::string> warnings;                        // GITHUB_ACTIONS == "true"

  // Repository object in the shape of GitHub's `GET /repos/{owner}/{repo}`
  // response (name, description, html_url, license.spdx_id, default_branch).
  // The OCI labels and `type=edge` read it. Workflow mode copies
  // payload.repository; git mode derives name, html_url and default_branch
  // from the checkout. Never fetched over the network.
  nlohmann::json repository_data = nlohmann::json::object();

  std::string base_ref;    // GITHUB_BASE_REF (pull-request events only)
  std::string head_ref;    // GITHUB_HEAD_REF (pull-request events only)
  std::string server_url;  // GITHUB_SERVER_URL, e.g. "https://github.com"
  std::string run_id;      // GITHUB_RUN_ID

  // Settings of docker/metadata-action read from the environment, kept here
  // so that tag computation reads no environment itself.
  std::optional<std::string> short_sha_length;   // DOCKER_METADATA_SHORT_SHA_LENGTH, verbatim
  std::string annotation_levels = "manifest";    // DOCKER_METADATA_ANNOTATIONS_LEVELS
  std::optional<std::string> source_date_epoch;  // SOURCE_DATE_EPOCH, verbatim
};

// Reads the GitHub Actions context from the environment (GITHUB_EVENT_NAME,
// GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY, payload at GITHUB_EVENT_PATH, ...).
// Applies metadata-action's rewrites: pull_request_target events get the ref
// refs/pull/<number>/merge, and DOCKER_METADATA_PR_HEAD_SHA=true replaces the
// sha of pull-request events with the PR head sha. A payload file that does
// not exist gives {}. Throws UsageError for an unreadable or invalid payload,
// naming the file.
Context from_workflow();

// Reads ref, HEAD sha, commit date and default branch from the checkout at
// `dir` with the git CLI, as metadata-action's `context: git` does: the
// checked-out branch (refs/heads/<branch>); for a detached HEAD, the first
// ref pointing at it ("tag: X" gives refs/tags/X, a remote branch
// origin/b gives refs/heads/b), else the first branch, remote branch or tag
// that contains it. The default branch comes from origin/HEAD, else "main".
// Throws UsageError when `dir` is not a git checkout or git is missing.
Context from_git(const std::filesystem::path& dir);

// Returns from_workflow() when `source` is workflow, or when `source` is
// unset and GITHUB_ACTIONS=true; otherwise from_git(dir).
Context load(std::optional<Source> source, const std::filesystem::path& dir);

// True for pull_request, pull_request_target, merge_group, a workflow_run
// whose payload workflow_run.event is pull_request or pull_request_target,
// and a push with "deleted": true. Nothing is pushed on these by default.
bool is_pull_request_like(const Context& context);

}  // namespace multipush::context
