#include <doctest/doctest.h>

#include "build/buildx.hpp"
#include "build_fixture.hpp"

using namespace multipush::build::detail;
namespace fs = std::filesystem;

namespace {

BuilderInfo inspect_sample(const std::string& name) {
  return parse_buildx_inspect(build_test::read_text(fs::path(MULTIPUSH_SOURCE_DIR) / "tests/data/build" / name));
}

}  // namespace

TEST_CASE("buildx version release") {
  auto version = parse_buildx_version("github.com/docker/buildx v0.10.5 86bdced7766639d56baa4c7c449a4f6468490f87\n");
  REQUIRE(version);
  CHECK(version->major == 0);
  CHECK(version->minor == 10);
  CHECK(version->patch == 5);
  CHECK(version->text == "v0.10.5");
  CHECK_FALSE(version->at_least(0, 19));
}

TEST_CASE("buildx version variants") {
  auto rc = parse_buildx_version("github.com/docker/buildx v0.20.0-rc1 abc1234");
  REQUIRE(rc);
  CHECK(rc->minor == 20);
  CHECK(rc->at_least(0, 19));

  auto desktop = parse_buildx_version("github.com/docker/buildx v0.19.2-desktop.1 d5e6f7a");
  REQUIRE(desktop);
  CHECK(desktop->minor == 19);
  CHECK(desktop->patch == 2);

  auto debian = parse_buildx_version("github.com/docker/buildx 0.13.1+ds1-3 0.13.1+ds1-3");
  REQUIRE(debian);
  CHECK(debian->minor == 13);

  CHECK(parse_buildx_version("github.com/docker/buildx 1.0.0 1a2b3c")->at_least(0, 19));
}

TEST_CASE("buildx version development builds") {
  CHECK_FALSE(parse_buildx_version("github.com/docker/buildx v0.0.0+unknown 4c6ff5f"));
  CHECK_FALSE(parse_buildx_version("github.com/docker/buildx 4c6ff5f 4c6ff5f"));
  CHECK_FALSE(parse_buildx_version(""));
}

TEST_CASE("allow flag support") {
  CHECK_FALSE(supports_allow_flag(parse_buildx_version("github.com/docker/buildx v0.18.0 x"), "--allow"));
  CHECK(supports_allow_flag(parse_buildx_version("github.com/docker/buildx v0.19.0 x"), ""));
  CHECK(supports_allow_flag(std::nullopt, "      --allow stringArray   Allow build to access specified resources"));
  CHECK_FALSE(supports_allow_flag(std::nullopt, "  -f, --file stringArray   Build definition file"));
}

TEST_CASE("inspect buildx 0.10 layout") {
  auto info = inspect_sample("inspect-v0.10.5.txt");
  CHECK(info.name == "multipush");
  CHECK(info.driver == "docker-container");
  REQUIRE(info.nodes.size() == 1);
  CHECK(info.nodes[0].name == "multipush0");
  CHECK(info.nodes[0].status == "running");
  CHECK(info.nodes[0].platforms ==
        std::vector<std::string>{"linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/386"});
}

TEST_CASE("inspect buildx 0.12 layout") {
  auto info = inspect_sample("inspect-v0.12.1.txt");
  CHECK(info.name == "ci-builder");
  REQUIRE(info.nodes.size() == 1);
  const BuilderNode& node = info.nodes[0];
  CHECK(node.platforms ==
        std::vector<std::string>{"linux/amd64", "linux/arm64/v8", "linux/amd64/v2", "linux/arm/v7", "linux/arm/v6"});
  CHECK(node.labels.at("org.mobyproject.buildkit.worker.snapshotter") == "overlayfs");
  CHECK(node.labels.size() == 4);  // GC policy lines are not labels
}

TEST_CASE("inspect two nodes") {
  auto info = inspect_sample("inspect-v0.22.0-two-nodes.txt");
  REQUIRE(info.nodes.size() == 2);
  CHECK(info.nodes[0].platforms == std::vector<std::string>{"linux/amd64"});
  CHECK(info.nodes[1].name == "arm");
  CHECK(info.nodes[1].status == "inactive");
  CHECK(info.nodes[1].platforms.empty());
}

TEST_CASE("platform normalization") {
  CHECK(normalize_platform("linux/arm64/v8") == "linux/arm64");
  CHECK(normalize_platform("linux/arm64") == "linux/arm64");
  CHECK(normalize_platform("linux/amd64/v1") == "linux/amd64");
  CHECK(normalize_platform("linux/amd64/v2") == "linux/amd64/v2");
  CHECK(normalize_platform("linux/arm") == "linux/arm/v7");
  CHECK(normalize_platform("linux/arm/v6") == "linux/arm/v6");
}

TEST_CASE("builder with all platforms") {
  auto info = inspect_sample("inspect-v0.12.1.txt");
  CHECK(missing_platforms(info, {"linux/amd64", "linux/arm64", "linux/arm"}).empty());
  CHECK_FALSE(builder_problem(info, {"linux/amd64", "linux/arm64"}));
}

TEST_CASE("builder without arm64") {
  auto info = inspect_sample("inspect-v0.10.5.txt");
  CHECK(missing_platforms(info, {"linux/amd64", "linux/arm64"}) == std::vector<std::string>{"linux/arm64"});
  auto problem = builder_problem(info, {"linux/amd64", "linux/arm64"});
  REQUIRE(problem);
  CHECK(problem->find("cannot build linux/arm64") != std::string::npos);
  CHECK(problem->find("tonistiigi/binfmt") != std::string::npos);
  CHECK(problem->find("docker buildx create") != std::string::npos);
}

TEST_CASE("builder with inactive node") {
  auto info = inspect_sample("inspect-v0.22.0-two-nodes.txt");
  auto problem = builder_problem(info, {"linux/amd64", "linux/arm64"});
  REQUIRE(problem);
  CHECK(problem->find("arm is inactive") != std::string::npos);
}

TEST_CASE("docker driver without containerd store") {
  auto info = inspect_sample("inspect-v0.19.3-docker-driver.txt");
  auto problem = builder_problem(info, {"linux/amd64"});
  REQUIRE(problem);
  CHECK(problem->find("docker driver") != std::string::npos);
  CHECK(problem->find("--driver docker-container") != std::string::npos);

  info.nodes[0].labels["org.mobyproject.buildkit.worker.snapshotter"] = "overlayfs";
  CHECK_FALSE(builder_problem(info, {"linux/amd64"}));
}

TEST_CASE("builder without nodes") {
  auto problem = builder_problem(parse_buildx_inspect("Name: x\nDriver: docker-container\n"), {"linux/amd64"});
  REQUIRE(problem);
  CHECK(problem->find("no nodes") != std::string::npos);
}
