#include <doctest/doctest.h>

#include <algorithm>

#include "build/buildah.hpp"
#include "build_fixture.hpp"
#include "multipush/util/error.hpp"

using namespace multipush::build;
namespace fs = std::filesystem;

namespace {

bool contains_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("buildah commands for one target") {
  build_test::Project project;
  project.target.target = "runtime";
  project.target.annotations = {"index:org.opencontainers.image.description=hello"};
  project.request.build.cache_from = {"type=gha"};
  const fs::path layout = "/run/layouts/hello";

  auto commands = detail::buildah_commands(project.request, project.request.targets[0], "localhost/list", layout);

  const auto& build = commands.build;
  REQUIRE(build.size() > 4);
  CHECK(std::vector<std::string>(build.begin(), build.begin() + 4) ==
        std::vector<std::string>{"buildah", "--storage-driver", "vfs", "build"});
  CHECK(contains_pair(build, "--platform", "linux/amd64,linux/arm64"));
  CHECK(contains_pair(build, "--manifest", "localhost/list"));
  CHECK(contains_pair(build, "-f", project.target.dockerfile.string()));
  CHECK(contains_pair(build, "--build-arg", "GREETING=hi"));
  CHECK(contains_pair(build, "--target", "runtime"));
  CHECK(contains_pair(build, "--label", "org.opencontainers.image.version=1.2.3"));
  CHECK(contains_pair(build, "--label", "org.example.team=build"));
  CHECK(contains_pair(build, "--annotation", "org.opencontainers.image.version=1.2.3"));
  CHECK(build.back() == project.target.context.string());

  CHECK(commands.push == std::vector<std::string>{"buildah", "--storage-driver", "vfs", "manifest", "push", "--all",
                                                  "--format", "oci", "localhost/list", "oci:/run/layouts/hello:1.2.3"});
  CHECK(commands.remove == std::vector<std::string>{"buildah", "--storage-driver", "vfs", "manifest", "rm", "localhost/list"});

  // Index annotations and cache settings have no buildah 1.28 equivalent.
  CHECK(commands.ignored.size() == 2);
  CHECK(commands.ignored[0] == "annotation index:org.opencontainers.image.description=hello");
  CHECK(commands.ignored[1] == "cache-from type=gha");
}

TEST_CASE("buildah builds both platforms") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: buildah with vfs storage needs root and buildah on PATH");
    return;
  }
  build_test::Project project;
  project.request.build.builder = multipush::config::Builder::buildah;

  const auto images = build(project.request);

  REQUIRE(images.size() == 1);
  const BuiltImage& image = images[0];
  CHECK(image.target == "hello");
  CHECK(image.layout == project.request.work_dir / "layouts" / "hello");
  CHECK(fs::exists(image.layout / "oci-layout"));

  const auto layout_index = build_test::read_json(image.layout / "index.json");
  REQUIRE(layout_index["manifests"].size() == 1);
  const auto& entry = layout_index["manifests"][0];
  CHECK(entry["mediaType"] == "application/vnd.oci.image.index.v1+json");
  CHECK(entry["digest"] == image.digest);
  CHECK(entry["annotations"]["org.opencontainers.image.ref.name"] == "1.2.3");

  const auto image_index = build_test::read_blob(image.layout, image.digest);
  CHECK(build_test::index_platforms(image_index) == std::vector<std::string>{"linux/amd64", "linux/arm64"});

  for (const auto& platform_entry : image_index["manifests"]) {
    const auto manifest = build_test::read_blob(image.layout, platform_entry["digest"]);
    CHECK(manifest["annotations"]["org.opencontainers.image.version"] == "1.2.3");
    const auto config = build_test::read_blob(image.layout, manifest["config"]["digest"]);
    CHECK(config["config"]["Labels"]["org.example.team"] == "build");
    CHECK(config["config"]["Labels"]["org.opencontainers.image.version"] == "1.2.3");
  }
}

TEST_CASE("buildah failure is build_failed") {
  if (!build_test::buildah_usable()) {
    MESSAGE("skipped: buildah with vfs storage needs root and buildah on PATH");
    return;
  }
  build_test::Project project;
  project.request.build.builder = multipush::config::Builder::buildah;
  build_test::write_text(project.target.dockerfile, "FROM scratch\nCOPY missing.txt /\n");

  try {
    build(project.request);
    FAIL("a failing Dockerfile must throw");
  } catch (const multipush::Fatal& error) {
    CHECK(error.code() == multipush::ExitCode::build_failed);
    CHECK(std::string(error.what()).find("\"hello\"") != std::string::npos);
  }
}
