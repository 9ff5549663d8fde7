#include <string>
#include <vector>

#include "context/settings.hpp"
#include "multipush/context/context.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

namespace multipush::context {
namespace {

std::string trim_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// Runs `git -C dir ARGS...` and returns its trimmed stdout, or nullopt when
// git exits non-zero. Throws UsageError when git cannot be started.
std::optional<std::string> git(const std::filesystem::path& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());

  util::ProcessOptions options;
  options.extra_env = {{"LC_ALL", "C"}, {"GIT_TERMINAL_PROMPT", "0"}};
  options.timeout = std::chrono::seconds(30);
  auto result = util::run_process(argv, options);
  if (!result) {
    throw UsageError("git was not found on PATH; install git, or run in GitHub Actions where the "
                     "context comes from the environment");
  }
  if (result->exit_code != 0 || result->timed_out) return std::nullopt;
  return trim_newlines(result->stdout_text);
}

// Splits a remote URL such as https://github.com/acme/app.git or
// git@github.com:acme/app.git into host and "owner/name".
std::optional<std::pair<std::string, std::string>> split_remote_url(std::string url) {
  if (url.ends_with(".git")) url.resize(url.size() - 4);
  while (url.ends_with("/")) url.pop_back();

  std::string host_and_path;
  if (auto scheme = url.find("://"); scheme != std::string::npos) {
    host_and_path = url.substr(scheme + 3);
    if (auto at = host_and_path.find('@'); at != std::string::npos && at < host_and_path.find('/')) {
      host_and_path.erase(0, at + 1);
    }
  } else if (auto colon = url.find(':'); colon != std::string::npos) {
    // scp-like syntax: [user@]host:path
    host_and_path = url.substr(0, colon) + "/" + url.substr(colon + 1);
    if (auto at = host_and_path.find('@'); at != std::string::npos && at < host_and_path.find('/')) {
      host_and_path.erase(0, at + 1);
    }
  } else {
    return std::nullopt;
  }

  auto slash = host_and_path.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= host_and_path.size()) return std::nullopt;
  std::string host = host_and_path.substr(0, slash);
  // A port is not part of the web URL of the repository.
  if (auto port = host.find(':'); port != std::string::npos) host.resize(port);
  return std::pair{host, host_and_path.substr(slash + 1)};
}

}  // namespace

Context from_git(const std::filesystem::path& dir) {
  auto sha = git(dir, {"rev-parse", "--verify", "HEAD"});
  if (!sha) {
    throw UsageError("cannot read the commit of the git checkout at " + dir.string() +
                     "; run in a git repository with at least one commit, or set GITHUB_ACTIONS=true "
                     "with the GITHUB_* variables");
  }

  Context context;
  context.source = Source::git;
  context.event_name = "push";
  context.sha = *sha;
  read_settings(context);

  // A tag on HEAD wins over the branch, so a tagged commit gets tag rules.
  if (auto tag = git(dir, {"describe", "--tags", "--exact-match", "HEAD"}); tag && !tag->empty()) {
    context.ref = "refs/tags/" + *tag;
  } else if (auto branch = git(dir, {"symbolic-ref", "--quiet", "HEAD"}); branch && !branch->empty()) {
    context.ref = *branch;
  }

  context.commit_date = git(dir, {"show", "--no-patch", "--format=%cI", "HEAD"}).value_or("");

  context.default_branch = "main";
  if (auto origin_head = git(dir, {"symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"})) {
    if (origin_head->starts_with("origin/") && origin_head->size() > 7) {
      context.default_branch = origin_head->substr(7);
    }
  }

  nlohmann::json repository = {{"default_branch", context.default_branch}};
  if (auto url = git(dir, {"remote", "get-url", "origin"})) {
    if (auto parts = split_remote_url(*url)) {
      context.repository = parts->second;
      repository["name"] = parts->second.substr(parts->second.rfind('/') + 1);
      repository["html_url"] = "https://" + parts->first + "/" + parts->second;
    }
  }
  context.repository_data = std::move(repository);
  return context;
}

}  // namespace multipush::context
