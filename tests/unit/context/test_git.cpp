#include <doctest/doctest.h>

#include "context/scoped_env.hpp"
#include "multipush/context/context.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

using namespace multipush::context;

namespace {

// Runs git in `dir` with a fixed identity and commit date; fails the test on error.
std::string git(const std::filesystem::path& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", dir.string(), "-c", "user.name=Test", "-c",
                                   "user.email=test@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  multipush::util::ProcessOptions options;
  options.extra_env = {{"GIT_COMMITTER_DATE", "2024-03-14T09:08:07+02:00"},
                       {"GIT_AUTHOR_DATE", "2024-03-14T09:08:07+02:00"}};
  auto result = multipush::util::run_process(argv, options);
  REQUIRE(result.has_value());
  INFO("git stderr: " << result->stderr_text);
  REQUIRE(result->exit_code == 0);
  std::string out = result->stdout_text;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A repository with one commit on branch main.
struct Repository {
  TempDir dir;
  std::string sha;

  Repository() {
    git(dir.path(), {"init", "--quiet", "--initial-branch=main"});
    dir.write("README", "hello\n");
    git(dir.path(), {"add", "README"});
    git(dir.path(), {"commit", "--quiet", "-m", "first"});
    sha = git(dir.path(), {"rev-parse", "HEAD"});
  }
};

}  // namespace

TEST_CASE("git context on branch") {
  ScopedEnv env;
  Repository repo;
  Context context = from_git(repo.dir.path());
  CHECK(context.source == Source::git);
  CHECK(context.event_name == "push");
  CHECK(context.ref == "refs/heads/main");
  CHECK(context.sha == repo.sha);
  CHECK(context.sha.size() == 40);
  CHECK(context.commit_date == "2024-03-14T09:08:07+02:00");
  CHECK(context.default_branch == "main");
  CHECK(context.repository.empty());
  CHECK(context.payload == nlohmann::json::object());
}

TEST_CASE("git context tag on HEAD of a checked-out branch") {
  // The checked-out branch wins, as in the action's git context.
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"tag", "v1.2.3"});
  CHECK(from_git(repo.dir.path()).ref == "refs/heads/main");
}

TEST_CASE("git context tag on older commit") {
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"tag", "v1.2.3"});
  git(repo.dir.path(), {"commit", "--quiet", "--allow-empty", "-m", "second"});
  CHECK(from_git(repo.dir.path()).ref == "refs/heads/main");
}

TEST_CASE("git context detached HEAD") {
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"commit", "--quiet", "--allow-empty", "-m", "second"});
  git(repo.dir.path(), {"switch", "--quiet", "--detach", "HEAD~1"});
  Context context = from_git(repo.dir.path());
  // No ref points at the commit; main contains it.
  CHECK(context.ref == "refs/heads/main");
  CHECK(context.sha == repo.sha);
}

TEST_CASE("git context detached HEAD with tag") {
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"tag", "-a", "-m", "release", "v2.0.0"});
  git(repo.dir.path(), {"switch", "--quiet", "--detach", "HEAD"});
  CHECK(from_git(repo.dir.path()).ref == "refs/tags/v2.0.0");
}

TEST_CASE("git context origin remote") {
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"remote", "add", "origin", "git@github.com:Acme/App.git"});
  git(repo.dir.path(), {"update-ref", "refs/remotes/origin/trunk", "HEAD"});
  git(repo.dir.path(), {"symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk"});

  Context context = from_git(repo.dir.path());
  CHECK(context.repository == "Acme/App");
  CHECK(context.default_branch == "trunk");
  CHECK(context.repository_data.at("name") == "App");
  CHECK(context.repository_data.at("html_url") == "https://github.com/Acme/App");
  CHECK(context.repository_data.at("default_branch") == "trunk");
}

TEST_CASE("git context https remote") {
  ScopedEnv env;
  Repository repo;
  git(repo.dir.path(), {"remote", "add", "origin", "https://user@git.example.com:8443/group/sub/app.git"});
  Context context = from_git(repo.dir.path());
  CHECK(context.repository == "group/sub/app");
  CHECK(context.repository_data.at("html_url") == "https://git.example.com/group/sub/app");
}

TEST_CASE("git context not a repository") {
  ScopedEnv env;
  TempDir dir;
  Context context = from_git(dir.path());
  CHECK(context.sha.empty());
  CHECK(context.ref.empty());
  CHECK(context.default_branch == "main");
  REQUIRE(context.warnings.size() == 1);
  CHECK(context.warnings[0].find("no git commit found") != std::string::npos);
}

TEST_CASE("load without GITHUB_ACTIONS uses git") {
  ScopedEnv env;
  env.set("GITHUB_EVENT_NAME", "pull_request");
  Repository repo;
  Context context = load(std::nullopt, repo.dir.path());
  CHECK(context.source == Source::git);
  CHECK(context.event_name == "push");
}
