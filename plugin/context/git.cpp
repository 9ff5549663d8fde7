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

// The first line of `text` that does not describe the detached HEAD itself,
// such as "(HEAD detached at 1a2b3c4)".
std::string first_line(const std::optional<std::string>& text) {
  if (!text) return {};
  std::size_t start = 0;
  while (start < text->size()) {
    auto end = text->find('\n', start);
    std::string line = text->substr(start, end - start);
    if (!line.empty() && !line.starts_with("(")) return line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

// The ref of a detached HEAD from `git show -s --pretty=%D`: the first
// decoration after HEAD. "tag: X" gives refs/tags/X, "pull/N/head" (or
// merge) refs/pull/N/head, "origin/b" and "b" refs/heads/b. A HEAD with no
// decoration takes the first local branch that contains it, then the first
// remote branch, then the first tag; "" when there is none.
std::string detached_ref(const std::filesystem::path& dir) {
  std::string decorations = git(dir, {"show", "-s", "--pretty=%D", "HEAD"}).value_or("");
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < decorations.size()) {
    auto comma = decorations.find(", ", start);
    std::string name = decorations.substr(start, comma - start);
    if (name != "HEAD" && !name.empty()) names.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  if (!names.empty()) {
    const std::string& name = names.front();
    if (name.starts_with("tag: ")) return "refs/tags/" + name.substr(5);
    std::string path = name;
    auto slash = path.find('/');
    if (path.starts_with("pull/")) return "refs/" + path;
    if (slash != std::string::npos && path.substr(slash + 1).starts_with("pull/")) {
      return "refs/" + path.substr(slash + 1);
    }
    // A remote-tracking branch such as origin/main names the branch main.
    if (slash != std::string::npos &&
        git(dir, {"show-ref", "--verify", "--quiet", "refs/remotes/" + path}).has_value()) {
      return "refs/heads/" + path.substr(slash + 1);
    }
    return "refs/heads/" + path;
  }
  if (auto local = first_line(git(dir, {"branch", "--contains", "HEAD", "--format=%(refname:short)"}));
      !local.empty()) {
    return "refs/heads/" + local;
  }
  if (auto remote = first_line(git(dir, {"branch", "-r", "--contains", "HEAD", "--format=%(refname:short)"}));
      !remote.empty()) {
    auto slash = remote.find('/');
    return "refs/heads/" + (slash == std::string::npos ? remote : remote.substr(slash + 1));
  }
  if (auto tag = first_line(git(dir, {"tag", "--contains", "HEAD"})); !tag.empty()) return "refs/tags/" + tag;
  return {};
}

}  // namespace

Context from_git(const std::filesystem::path& dir) {
  Context context;
  context.source = Source::git;
  context.event_name = "push";
  read_settings(context);

  // Outside a checkout there is no branch, tag or commit: rules that need
  // them give no tag, and `type=raw` rules still work.
  auto sha = git(dir, {"rev-parse", "--verify", "HEAD"});
  if (!sha) {
    context.default_branch = "main";
    context.repository_data = nlohmann::json{{"default_branch", context.default_branch}};
    context.warnings.push_back("no git commit found at " + dir.string() +
                               ", so tag rules that need a branch, tag or commit give no tag; run in a git "
                               "repository with at least one commit, or set GITHUB_ACTIONS=true with the "
                               "GITHUB_* variables");
    return context;
  }
  context.sha = *sha;

  // As the action's git context: the checked-out branch, else a ref
  // inferred from the refs that point at the detached HEAD.
  if (auto branch = git(dir, {"symbolic-ref", "--quiet", "HEAD"}); branch && !branch->empty()) {
    context.ref = *branch;
  } else {
    context.ref = detached_ref(dir);
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
