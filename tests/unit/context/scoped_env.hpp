#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Clears the variables the context reads, sets the given ones, and restores
// the previous values when it goes out of scope.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& values = {}) {
    for (const char* name : kNames) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      unsetenv(name);
    }
    for (const auto& [name, value] : values) set(name, value);
  }

  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

  void set(const std::string& name, const std::string& value) {
    bool known = false;
    for (const char* candidate : kNames) known = known || name == candidate;
    if (!known) {
      // Variables outside kNames would not be restored afterwards.
      throw std::logic_error("ScopedEnv does not manage " + name);
    }
    setenv(name.c_str(), value.c_str(), 1);
  }

 private:
  static constexpr const char* kNames[] = {
      "GITHUB_ACTIONS",      "GITHUB_EVENT_NAME",   "GITHUB_REF",
      "GITHUB_SHA",          "GITHUB_REPOSITORY",   "GITHUB_EVENT_PATH",
      "GITHUB_BASE_REF",     "GITHUB_HEAD_REF",     "GITHUB_SERVER_URL",
      "GITHUB_RUN_ID",       "SOURCE_DATE_EPOCH",   "DOCKER_METADATA_PR_HEAD_SHA",
      "DOCKER_METADATA_SHORT_SHA_LENGTH", "DOCKER_METADATA_ANNOTATIONS_LEVELS"};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// A temporary directory, removed with its contents when it goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "multipush-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path write(const std::string& name, const std::string& content) const {
    auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};
