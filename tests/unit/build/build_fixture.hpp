#pragma once

// Shared setup for the build tests that really build: a temporary directory,
// a two-platform `FROM scratch` context, buildah storage inside the
// temporary directory, and environment overrides that are undone afterwards.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "multipush/build/build.hpp"
#include "multipush/util/process.hpp"

namespace build_test {

namespace fs = std::filesystem;

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

inline nlohmann::json read_json(const fs::path& file) { return nlohmann::json::parse(read_text(file)); }

// Sets environment variables for the lifetime of the object.
class EnvOverride {
 public:
  void set(const std::string& name, const std::string& value) {
    remember(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    remember(name);
    ::unsetenv(name.c_str());
  }
  ~EnvOverride() {
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
  }

 private:
  void remember(const std::string& name) {
    if (saved_.contains(name)) return;
    const char* value = ::getenv(name.c_str());
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

// A temporary directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device device;
    path_ = fs::temp_directory_path() / ("multipush-build-test-" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Returns true when buildah can run here: it needs root for vfs storage.
inline bool buildah_usable() { return ::geteuid() == 0 && multipush::util::find_program("buildah").has_value(); }

// A project with one `FROM scratch` target that builds for amd64 and arm64
// without emulation, and buildah storage kept under the temporary directory.
struct Project {
  TempDir dir;
  EnvOverride env;
  multipush::config::Target target;
  multipush::build::Request request;

  Project() {
    const fs::path context = dir.path() / "src";
    write_text(context / "hello.txt", "hello\n");
    write_text(context / "Dockerfile",
               "FROM scratch\nARG TARGETARCH\nARG GREETING=none\nCOPY hello.txt /hello-$TARGETARCH.txt\n");
    write_text(dir.path() / "storage.conf", "[storage]\ndriver = \"vfs\"\ngraphroot = \"" +
                                                (dir.path() / "storage").string() + "\"\nrunroot = \"" +
                                                (dir.path() / "run").string() + "\"\n");
    env.set("CONTAINERS_STORAGE_CONF", (dir.path() / "storage.conf").string());

    target.name = "hello";
    target.context = context;
    target.dockerfile = context / "Dockerfile";
    target.platforms = {"linux/amd64", "linux/arm64"};
    target.args = {{"GREETING", "hi"}};
    target.labels = {"org.example.team=build"};

    multipush::build::TargetSpec spec;
    spec.target = &target;
    spec.tags = {"localhost:5000/acme/hello:1.2.3", "docker.io/acme/hello:1.2.3"};
    spec.labels = {{"org.opencontainers.image.version", "1.2.3"}};
    spec.annotations = {"manifest:org.opencontainers.image.version=1.2.3"};
    request.targets = {spec};
    request.work_dir = dir.path() / "work";
  }
};

// Reads a blob of an OCI layout as JSON.
inline nlohmann::json read_blob(const fs::path& layout, const std::string& digest) {
  return read_json(layout / "blobs" / "sha256" / digest.substr(digest.find(':') + 1));
}

// Returns the "os/arch" of every platform manifest in the image index,
// leaving out attestation manifests.
inline std::vector<std::string> index_platforms(const nlohmann::json& index) {
  std::vector<std::string> platforms;
  for (const auto& entry : index["manifests"]) {
    const auto& platform = entry["platform"];
    if (platform["os"] == "unknown") continue;
    platforms.push_back(platform["os"].get<std::string>() + "/" + platform["architecture"].get<std::string>());
  }
  std::sort(platforms.begin(), platforms.end());
  return platforms;
}

}  // namespace build_test
