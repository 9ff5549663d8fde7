// Local mode: the reference project's rules give the same tags from a git
// checkout as from the GitHub Actions context of the same ref and commit.
#include <doctest/doctest.h>

#include "context/scoped_env.hpp"
#include "multipush/tags/tags.hpp"
#include "multipush/util/process.hpp"
#include "tags/date_format.hpp"

using namespace multipush;

namespace {

std::string git(const std::filesystem::path& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", dir.string(), "-c", "user.name=Test", "-c",
                                   "user.email=test@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  util::ProcessOptions options;
  options.extra_env = {{"GIT_COMMITTER_DATE", "2024-03-14T09:08:07+02:00"},
                       {"GIT_AUTHOR_DATE", "2024-03-14T09:08:07+02:00"}};
  auto result = util::run_process(argv, options);
  REQUIRE(result.has_value());
  INFO("git stderr: " << result->stderr_text);
  REQUIRE(result->exit_code == 0);
  std::string out = result->stdout_text;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

tags::Inputs reference_inputs() {
  tags::Inputs inputs;
  inputs.images = {"docker.io/openim/openkf-server"};
  inputs.tags = {"type=ref,event=tag",
                 "type=schedule",
                 "type=ref,event=branch",
                 "type=ref,event=pr",
                 "type=semver,pattern={{version}}",
                 "type=semver,pattern=v{{version}}",
                 "type=semver,pattern={{major}}.{{minor}}",
                 "type=semver,pattern={{major}}",
                 "type=sha",
                 "type=raw,value={{commit_date 'YYYYMMDD'}}-{{is_default_branch}},priority=1"};
  inputs.flavor = {"latest=auto"};
  return inputs;
}

// The tags the workflow context gives for a push of `ref` at `sha`.
std::vector<std::string> workflow_tags(const std::string& ref, const std::string& sha,
                                       std::chrono::system_clock::time_point now, TempDir& dir) {
  ScopedEnv env;
  env.set("GITHUB_EVENT_NAME", "push");
  env.set("GITHUB_REF", ref);
  env.set("GITHUB_SHA", sha);
  nlohmann::json payload = {{"repository", {{"name", "app"}, {"default_branch", "main"}}},
                            {"head_commit", {{"id", sha}, {"timestamp", "2024-03-14T09:08:07+02:00"}}}};
  env.set("GITHUB_EVENT_PATH", dir.write("event.json", payload.dump()).string());
  return tags::compute(context::from_workflow(), reference_inputs(), now).tags;
}

}  // namespace

TEST_CASE("git mode gives the workflow's tags for the reference rules") {
  ScopedEnv env;
  TempDir repo;
  TempDir events;
  const auto now = *tags::parse_iso8601("2024-03-15T22:45:30.123Z");
  git(repo.path(), {"init", "--quiet", "--initial-branch=main"});
  repo.write("README", "hello\n");
  git(repo.path(), {"add", "README"});
  git(repo.path(), {"commit", "--quiet", "-m", "first"});
  const std::string sha = git(repo.path(), {"rev-parse", "HEAD"});

  SUBCASE("branch main") {
    auto local = tags::compute(context::from_git(repo.path()), reference_inputs(), now).tags;
    CHECK(local == workflow_tags("refs/heads/main", sha, now, events));
    CHECK(local == std::vector<std::string>{"docker.io/openim/openkf-server:main",
                                            "docker.io/openim/openkf-server:sha-" + sha.substr(0, 7),
                                            "docker.io/openim/openkf-server:20240314-true"});
  }
  SUBCASE("tag checked out detached, as CI checks out a tag") {
    git(repo.path(), {"tag", "-a", "-m", "release", "v1.2.3"});
    git(repo.path(), {"switch", "--quiet", "--detach", "v1.2.3"});
    auto local = tags::compute(context::from_git(repo.path()), reference_inputs(), now).tags;
    CHECK(local == workflow_tags("refs/tags/v1.2.3", sha, now, events));
    CHECK(local.size() == 7);  // 1.2.3 v1.2.3 1.2 1 sha-… 20240314-false latest
    CHECK(local.front() == "docker.io/openim/openkf-server:1.2.3");
    CHECK(local.back() == "docker.io/openim/openkf-server:latest");
  }
  SUBCASE("feature branch") {
    git(repo.path(), {"switch", "--quiet", "-c", "feature/login"});
    auto local = tags::compute(context::from_git(repo.path()), reference_inputs(), now).tags;
    CHECK(local == workflow_tags("refs/heads/feature/login", sha, now, events));
    CHECK(local.front() == "docker.io/openim/openkf-server:feature-login");
  }
}
