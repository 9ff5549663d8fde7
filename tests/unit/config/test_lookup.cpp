#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "multipush/config/config.hpp"
#include "multipush/util/error.hpp"

namespace fs = std::filesystem;
using multipush::UsageError;
using namespace multipush::config;

namespace {

// A fresh directory under the system temp dir, removed at the end of a test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "multipush-config-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  fs::path write(const fs::path& relative, const std::string& text) const {
    fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  fs::path path_;
};

const std::string kConfig = "registries: { ghcr.io: {} }\ntargets: { app: { context: src } }\n";

}  // namespace

TEST_CASE("lookup: order") {
  TempDir dir;
  unsetenv("MULTIPUSH_CONFIG");
  CHECK_FALSE(find_config(std::nullopt, dir.path()).has_value());

  fs::path github = dir.write(".github/multipush.yaml", kConfig);
  CHECK(find_config(std::nullopt, dir.path()) == github);

  fs::path root = dir.write("multipush.yaml", kConfig);
  CHECK(find_config(std::nullopt, dir.path()) == root);

  fs::path from_env = dir.write("ci/env.yaml", kConfig);
  setenv("MULTIPUSH_CONFIG", "ci/env.yaml", 1);
  CHECK(find_config(std::nullopt, dir.path()) == from_env);

  fs::path explicit_file = dir.write("other.yaml", kConfig);
  CHECK(find_config(fs::path("other.yaml"), dir.path()) == explicit_file);
  CHECK(find_config(explicit_file, "/") == explicit_file);

  setenv("MULTIPUSH_CONFIG", "", 1);
  CHECK(find_config(std::nullopt, dir.path()) == root);
  unsetenv("MULTIPUSH_CONFIG");
}

TEST_CASE("lookup: missing files") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(find_config(fs::path("nope.yaml"), dir.path()),
                       doctest::Contains("nope.yaml (from -f) does not exist"), UsageError);

  setenv("MULTIPUSH_CONFIG", "missing.yaml", 1);
  CHECK_THROWS_WITH_AS(find_config(std::nullopt, dir.path()),
                       doctest::Contains("missing.yaml (from $MULTIPUSH_CONFIG) does not exist"), UsageError);
  unsetenv("MULTIPUSH_CONFIG");

  fs::create_directories(dir.path() / "folder");
  CHECK_THROWS_WITH_AS(find_config(fs::path("folder"), dir.path()), doctest::Contains("is a directory"), UsageError);

  CHECK_THROWS_WITH_AS(load_config(dir.path() / "absent.yaml"), doctest::Contains("cannot read config file"),
                       UsageError);
}

TEST_CASE("lookup: load file") {
  TempDir dir;
  fs::path file = dir.write(".github/multipush.yaml", kConfig);
  Config config = load_config(file);
  CHECK(config.file == file);
  CHECK(config.base_dir == dir.path() / ".github");
  CHECK(config.targets[0].context == dir.path() / ".github" / "src");
  // sha256 of the file bytes, computed independently with sha256sum.
  CHECK(config.digest == "sha256:99082060988fbfb48f0bf81e6e6edc4349362a9433da3d966460e8a228d46b46");
}

TEST_CASE("lookup: reference project") {
  setenv("ALIYUN_USERNAME", "aliyun-user", 1);
  setenv("ALIYUN_PASSWORD", "aliyun-password", 1);
  setenv("GITHUB_ACTOR", "octocat", 1);
  setenv("GITHUB_TOKEN", "ghp_example_token", 1);
  setenv("DINGTALK_WEBHOOK", "https://oapi.dingtalk.com/robot/send?access_token=abc", 1);
  setenv("DINGTALK_SECRET", "SECabcdef", 1);

  fs::path file = fs::path(MULTIPUSH_SOURCE_DIR) / "tests/data/config/openkf.yaml";
  Config config = load_config(file);
  REQUIRE(config.registries.size() == 3);
  CHECK(config.registries[1].host == "registry.cn-hangzhou.aliyuncs.com");
  CHECK(config.registries[1].password == "aliyun-password");
  CHECK(config.registries[2].username == "octocat");
  REQUIRE(config.targets.size() == 3);
  CHECK(config.targets[0].dockerfile == file.parent_path() / "deploy/docker/Dockerfile.server");
  CHECK(config.tags.size() == 9);
  REQUIRE(config.notify.size() == 2);
  CHECK(config.notify[0].type == "dingtalk");
  CHECK(config.notify[0].secret == "SECabcdef");

  auto server = destinations(config, config.targets[0]);
  REQUIRE(server.size() == 3);
  CHECK(server[0].str() == "docker.io/openim/openkf-server");
  CHECK(server[1].str() == "registry.cn-hangzhou.aliyuncs.com/openimsdk/openkf-server");
  CHECK(server[2].str() == "ghcr.io/openimsdk/openkf-server");

  unsetenv("GITHUB_TOKEN");
  CHECK_THROWS_WITH_AS(load_config(file),
                       doctest::Contains("openkf.yaml:11: registries.ghcr.io.password: environment variable "
                                         "GITHUB_TOKEN is not set"),
                       UsageError);

  for (const char* name : {"ALIYUN_USERNAME", "ALIYUN_PASSWORD", "GITHUB_ACTOR", "DINGTALK_WEBHOOK", "DINGTALK_SECRET"}) {
    unsetenv(name);
  }
}
