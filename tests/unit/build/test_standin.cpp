// Builds through tests/support/docker-buildx-standin, put on PATH as `docker`.
#include <doctest/doctest.h>

#include <algorithm>

#include "build_fixture.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

using namespace multipush::build;
namespace fs = std::filesystem;

namespace {

// A project whose `docker` is the buildx stand-in, recording into `records`.
struct StandinProject : build_test::Project {
  fs::path bin = dir.path() / "bin";
  fs::path records = dir.path() / "records";

  StandinProject() {
    fs::create_directories(bin);
    fs::create_symlink(fs::path(MULTIPUSH_SOURCE_DIR) / "tests/support/docker-buildx-standin", bin / "docker");
    env.set("PATH", bin.string() + ":" + std::string(::getenv("PATH") ? ::getenv("PATH") : "/usr/bin:/bin"));
    env.set("STANDIN_RECORD_DIR", records.string());
    for (const char* name : {"STANDIN_BUILDX_VERSION", "STANDIN_PLATFORMS", "STANDIN_DRIVER", "STANDIN_ATTESTATIONS",
                             "STANDIN_NO_OCI_LAYOUT", "STANDIN_FAIL", "BUILDX_BUILDER"}) {
      env.unset(name);
    }
    request.docker_global_args = {"--config", (dir.path() / "docker-config").string()};
  }

  std::vector<nlohmann::json> recorded_calls() const {
    std::vector<fs::path> files;
    if (fs::exists(records)) {
      for (const auto& entry : fs::directory_iterator(records)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<nlohmann::json> calls;
    for (const auto& file : files) calls.push_back(build_test::read_json(file));
    return calls;
  }
};

bool has_argument(const nlohmann::json& argv, const std::string& value) {
  return std::find(argv.begin(), argv.end(), value) != argv.end();
}

std::string sha256_of_file(const fs::path& file) {
  auto result = multipush::util::run_process({"sha256sum", file.string()});
  REQUIRE(result);
  return "sha256:" + result->stdout_text.substr(0, 64);
}

}  // namespace

TEST_CASE("standin chooses buildx backend") {
  StandinProject project;
  CHECK(choose_backend(project.request) == Backend::buildx);
  project.request.build.builder = multipush::config::Builder::buildah;
  CHECK(choose_backend(project.request) == Backend::buildah);
}

TEST_CASE("broken docker falls back to buildah") {
  StandinProject project;
  fs::remove(project.bin / "docker");
  build_test::write_text(project.bin / "docker", "#!/bin/sh\necho \"docker: 'buildx' is not a docker command.\" >&2\nexit 1\n");
  fs::permissions(project.bin / "docker", fs::perms::owner_all);

  if (multipush::util::find_program("buildah")) CHECK(choose_backend(project.request) == Backend::buildah);

  project.request.build.builder = multipush::config::Builder::buildx;
  try {
    choose_backend(project.request);
    FAIL("builder: buildx without buildx must throw");
  } catch (const multipush::Fatal& error) {
    CHECK(error.code() == multipush::ExitCode::build_failed);
    CHECK(std::string(error.what()).find("not a docker command") != std::string::npos);
  }
}

TEST_CASE("standin bake builds layout") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: the stand-in builds with buildah, which needs root");
    return;
  }
  StandinProject project;

  const auto images = build(project.request);

  REQUIRE(images.size() == 1);
  const BuiltImage& image = images[0];
  CHECK(fs::exists(image.layout / "oci-layout"));
  const auto image_index = build_test::read_blob(image.layout, image.digest);
  CHECK(build_test::index_platforms(image_index) == std::vector<std::string>{"linux/amd64", "linux/arm64"});
  CHECK(image_index["manifests"].size() == 2);

  const auto metadata = build_test::read_json(project.request.work_dir / "bake-metadata.json");
  CHECK(metadata["hello"]["containerimage.digest"] == image.digest);

  // One index.json entry per tag, all pointing at the same image index.
  const auto layout_index = build_test::read_json(image.layout / "index.json");
  REQUIRE(layout_index["manifests"].size() == 2);
  for (const auto& entry : layout_index["manifests"]) CHECK(entry["digest"] == image.digest);

  const auto calls = project.recorded_calls();
  REQUIRE(calls.size() == 1);
  const auto& call = calls[0];
  CHECK_FALSE(call.contains("error"));
  CHECK(call["globals"] == nlohmann::json::array({"--config", (project.dir.path() / "docker-config").string()}));
  CHECK(has_argument(call["argv"], "fs.write=" + image.layout.string()));
  CHECK(has_argument(call["argv"], "--progress=auto"));
  CHECK(call["argv"].back() == "hello");

  const auto& target = call["resolved"]["hello"];
  CHECK(target["platforms"] == nlohmann::json::array({"linux/amd64", "linux/arm64"}));
  CHECK(target["context"] == project.target.context.string());
  CHECK(target["dockerfile"] == project.target.dockerfile.string());
  CHECK(target["args"]["GREETING"] == "hi");
  CHECK(target["labels"]["org.example.team"] == "build");
  CHECK(target["output"] ==
        nlohmann::json::array({"type=oci,dest=" + image.layout.string() + ",tar=false"}));
}

TEST_CASE("standin buildx 0.10 without allow") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: the stand-in builds with buildah, which needs root");
    return;
  }
  StandinProject project;
  project.env.set("STANDIN_BUILDX_VERSION", "v0.10.5");
  project.env.set("STANDIN_NO_OCI_LAYOUT", "1");

  const auto images = build(project.request);

  REQUIRE(images.size() == 1);
  CHECK_FALSE(fs::exists(images[0].layout / "oci-layout"));
  CHECK(fs::exists(images[0].layout / "index.json"));
  const auto calls = project.recorded_calls();
  REQUIRE(calls.size() == 1);
  CHECK_FALSE(has_argument(calls[0]["argv"], "--allow"));
}

TEST_CASE("standin buildx 0.20 needs allow") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: the stand-in builds with buildah, which needs root");
    return;
  }
  StandinProject project;
  project.env.set("STANDIN_BUILDX_VERSION", "v0.20.1");
  project.request.github_actions = true;

  const auto images = build(project.request);

  REQUIRE(images.size() == 1);
  const auto calls = project.recorded_calls();
  REQUIRE(calls.size() == 1);
  CHECK_FALSE(calls[0].contains("error"));
  CHECK(has_argument(calls[0]["argv"], "--progress=plain"));
}

TEST_CASE("standin attestations change digest") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: the stand-in builds with buildah, which needs root");
    return;
  }
  StandinProject project;
  project.env.set("STANDIN_ATTESTATIONS", "1");

  const auto images = build(project.request);

  REQUIRE(images.size() == 1);
  const BuiltImage& image = images[0];
  const fs::path index_blob = image.layout / "blobs" / "sha256" / image.digest.substr(7);
  CHECK(sha256_of_file(index_blob) == image.digest);

  const auto image_index = build_test::read_blob(image.layout, image.digest);
  REQUIRE(image_index["manifests"].size() == 4);
  CHECK(build_test::index_platforms(image_index) == std::vector<std::string>{"linux/amd64", "linux/arm64"});
  int attestations = 0;
  for (const auto& entry : image_index["manifests"]) {
    if (entry["platform"]["os"] != "unknown") continue;
    ++attestations;
    CHECK(entry["annotations"]["vnd.docker.reference.type"] == "attestation-manifest");
    const auto manifest = build_test::read_blob(image.layout, entry["digest"]);
    CHECK(manifest["layers"][0]["mediaType"] == "application/vnd.in-toto+json");
  }
  CHECK(attestations == 2);
}

TEST_CASE("standin failure is build_failed") {
  StandinProject project;
  project.env.set("STANDIN_FAIL", "1");
  try {
    build(project.request);
    FAIL("a failing bake must throw");
  } catch (const multipush::Fatal& error) {
    CHECK(error.code() == multipush::ExitCode::build_failed);
    CHECK(std::string(error.what()).find("exit code 1") != std::string::npos);
  }
}

TEST_CASE("standin missing platform stops before bake") {
  StandinProject project;
  project.env.set("STANDIN_PLATFORMS", "linux/amd64, linux/386");
  try {
    build(project.request);
    FAIL("a builder without linux/arm64 must throw");
  } catch (const multipush::Fatal& error) {
    CHECK(error.code() == multipush::ExitCode::build_failed);
    CHECK(std::string(error.what()).find("cannot build linux/arm64") != std::string::npos);
  }
  CHECK(project.recorded_calls().empty());
}

TEST_CASE("standin rejects invalid definitions") {
  StandinProject project;
  const fs::path dest = project.dir.path() / "out";
  const std::string context = project.target.context.string();
  const std::string dockerfile = project.target.dockerfile.string();
  const std::string output = "[\"type=oci,dest=" + dest.string() + ",tar=false\"]";

  struct Case {
    std::string name;
    std::string target_json;
    std::string version;
    std::string expected_error;
  };
  const std::vector<Case> cases{
      {"platform key", R"("platform": ["linux/amd64"], "output": )" + output, "v0.19.3", "\"platforms\""},
      {"relative context", R"("context": "src", "output": )" + output, "v0.19.3", "relative"},
      {"object output", R"("output": [{"type": "oci", "dest": "/x"}])", "v0.19.3", "CSV strings"},
      {"tar output", R"("output": ["type=oci,dest=/x"])", "v0.19.3", "tar=false"},
      {"missing fs.write grant", R"("output": )" + output, "v0.20.0", "additional privileges requested"},
  };

  for (const Case& test : cases) {
    CAPTURE(test.name);
    std::string target = R"({"context": ")" + context + R"(", "dockerfile": ")" + dockerfile + R"(", )" +
                         test.target_json + "}";
    if (test.name == "relative context") {
      target = R"({"dockerfile": ")" + dockerfile + R"(", )" + test.target_json + "}";
    }
    const fs::path file = project.dir.path() / "bake.json";
    build_test::write_text(file, R"({"target": {"hello": )" + target + "}}");
    project.env.set("STANDIN_BUILDX_VERSION", test.version);

    multipush::util::ProcessOptions options;
    options.working_directory = project.dir.path() / "src";
    auto result = multipush::util::run_process({"docker", "buildx", "bake", "-f", file.string(), "hello"}, options);
    REQUIRE(result);
    CHECK(result->exit_code != 0);
    CHECK(result->stderr_text.find(test.expected_error) != std::string::npos);
  }

  project.env.set("STANDIN_BUILDX_VERSION", "v0.10.5");
  auto result = multipush::util::run_process({"docker", "buildx", "bake", "--allow", "fs.write=/x", "-f", "/x.json"});
  REQUIRE(result);
  CHECK(result->exit_code != 0);
  CHECK(result->stderr_text.find("unknown flag: --allow") != std::string::npos);
}
