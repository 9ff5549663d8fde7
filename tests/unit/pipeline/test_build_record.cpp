#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "multipush/util/error.hpp"
#include "pipeline/build_record.hpp"

namespace fs = std::filesystem;
using multipush::UsageError;
using multipush::pipeline::build_record_path;
using multipush::pipeline::BuildRecord;
using multipush::pipeline::BuiltTarget;
using multipush::pipeline::read_build_record;
using multipush::pipeline::update_build_record;

namespace {

// A fresh directory under the system temp directory, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("multipush-record-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

BuiltTarget target(const std::string& layout, const std::string& digest) {
  return {layout, digest, "sha256:config", "0123456789abcdef0123456789abcdef01234567", "refs/tags/v1.2.3",
          "2026-12-04T20:15:00.000Z"};
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("build record path is beside the config") {
  CHECK(build_record_path("/work/project") == fs::path("/work/project/.multipush/build.json"));
}

TEST_CASE("missing build record is empty") {
  TempDir dir;
  CHECK(read_build_record(dir.path / "build.json").empty());
}

TEST_CASE("build record round trip") {
  TempDir dir;
  const fs::path path = build_record_path(dir.path);
  update_build_record(path, {{"server", target("/layouts/server", "sha256:aaa")}});

  const BuildRecord record = read_build_record(path);
  REQUIRE(record.size() == 1);
  const BuiltTarget& server = record.at("server");
  CHECK(server.layout == fs::path("/layouts/server"));
  CHECK(server.digest == "sha256:aaa");
  CHECK(server.config_digest == "sha256:config");
  CHECK(server.sha == "0123456789abcdef0123456789abcdef01234567");
  CHECK(server.ref == "refs/tags/v1.2.3");
  CHECK(server.built_at == "2026-12-04T20:15:00.000Z");
}

TEST_CASE("build record update keeps other targets") {
  TempDir dir;
  const fs::path path = build_record_path(dir.path);
  update_build_record(path, {{"server", target("/old/server", "sha256:old")}, {"web", target("/web", "sha256:web")}});
  update_build_record(path, {{"server", target("/new/server", "sha256:new")}});

  const BuildRecord record = read_build_record(path);
  REQUIRE(record.size() == 2);
  CHECK(record.at("server").digest == "sha256:new");
  CHECK(record.at("server").layout == fs::path("/new/server"));
  CHECK(record.at("web").digest == "sha256:web");
  CHECK_FALSE(fs::exists(path.string() + ".tmp-" + std::to_string(::getpid())));
}

TEST_CASE("invalid build record is rejected") {
  TempDir dir;
  const fs::path path = dir.path / "build.json";
  const std::string cases[] = {
      "not json",
      R"({"schema": 2, "targets": {}})",
      R"({"schema": 1})",
      R"({"schema": 1, "targets": {"server": {"digest": "sha256:aaa"}}})",
  };
  for (const auto& text : cases) {
    CAPTURE(text);
    write(path, text);
    CHECK_THROWS_AS(read_build_record(path), UsageError);
  }
}

TEST_CASE("invalid build record error names file and fix") {
  TempDir dir;
  const fs::path path = dir.path / "build.json";
  write(path, R"({"schema": 1, "targets": {"server": {"layout": "/x"}}})");
  try {
    read_build_record(path);
    FAIL("no error");
  } catch (const UsageError& error) {
    const std::string message = error.what();
    CHECK(message.find(path.string()) != std::string::npos);
    CHECK(message.find("\"server\"") != std::string::npos);
    CHECK(message.find("docker multipush build") != std::string::npos);
  }
}
