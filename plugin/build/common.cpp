#include "build/common.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

namespace multipush::build::detail {
namespace {

// Formats where a target is defined, " (multipush.yaml:12)", without calling
// into the config module.
std::string where(const config::Target& target) {
  if (target.location.file.empty()) return "";
  std::string text = " (" + target.location.file.string();
  if (target.location.line > 0) text += ":" + std::to_string(target.location.line);
  return text + ")";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> merged_labels(const TargetSpec& spec) {
  std::vector<std::pair<std::string, std::string>> labels = spec.labels;
  auto set_label = [&labels](const std::string& key, const std::string& value) {
    auto found = std::find_if(labels.begin(), labels.end(), [&](const auto& entry) { return entry.first == key; });
    if (found != labels.end()) {
      found->second = value;
    } else {
      labels.emplace_back(key, value);
    }
  };

  const config::Target& target = target_of(spec);
  for (const std::string& entry : target.labels) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("invalid label \"" + entry + "\" in target \"" + target.name +
                       "\"" + where(target) + ": write it as key=value");
    }
    set_label(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return labels;
}

std::vector<std::string> merged_annotations(const TargetSpec& spec) {
  std::vector<std::string> annotations;
  auto add = [&annotations](const std::string& entry) {
    if (std::find(annotations.begin(), annotations.end(), entry) == annotations.end()) annotations.push_back(entry);
  };
  for (const std::string& entry : spec.annotations) add(entry);
  for (const std::string& entry : target_of(spec).annotations) add(entry);
  return annotations;
}

const config::Target& target_of(const TargetSpec& spec) {
  if (spec.target == nullptr) throw Fatal(ExitCode::internal, "build request has a target spec without a target");
  return *spec.target;
}

void make_fresh_dir(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw Fatal(ExitCode::build_failed, "cannot create the directory " + dir.string() + ": " + error.message() +
                                            "; check that the work directory is writable");
  }
}

std::map<std::string, std::filesystem::path> layout_dirs(const Request& request) {
  std::map<std::string, std::filesystem::path> dirs;
  for (const TargetSpec& spec : request.targets) {
    const std::string& name = target_of(spec).name;
    dirs[name] = request.work_dir / "layouts" / name;
  }
  return dirs;
}

namespace {

std::string random_hex(size_t length) {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string text;
  for (size_t i = 0; i < length; ++i) text += "0123456789abcdef"[digit(device)];
  return text;
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

}  // namespace

int run_streamed(const std::vector<std::string>& argv, bool github_actions) {
  // The markers go to stderr, the stream that carries the child's output, so
  // that they stay in order with it.
  // NOTE: this relies on the Actions runner reading workflow commands from
  // stderr as it does from stdout, which was not checked against a runner.
  std::string token;
  if (github_actions) {
    token = random_hex(32);
    std::cerr << "::stop-commands::" << token << std::endl;
  }

  util::ProcessOptions options;
  options.capture_stdout = false;
  options.capture_stderr = false;
  options.stdout_to_stderr = true;
  std::cout.flush();
  std::cerr.flush();
  auto result = util::run_process(argv, options);

  if (github_actions) std::cerr << "::" << token << "::" << std::endl;
  if (!result) {
    throw Fatal(ExitCode::build_failed, "cannot run \"" + join_argv(argv) + "\": " + argv.front() +
                                            " was not found on PATH or is not executable");
  }
  return result->exit_code;
}

std::string layout_index_digest(const std::filesystem::path& layout, const std::string& expected_digest) {
  const std::filesystem::path index_file = layout / "index.json";
  std::ifstream in(index_file, std::ios::binary);
  if (!in) {
    throw Fatal(ExitCode::build_failed, "the builder wrote no " + index_file.string() +
                                            "; the OCI layout is incomplete, see the build output above");
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  nlohmann::json index = nlohmann::json::parse(bytes.str(), nullptr, false);
  if (index.is_discarded() || !index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    throw Fatal(ExitCode::build_failed, index_file.string() + " is not a valid OCI image index");
  }

  for (const nlohmann::json& entry : index["manifests"]) {
    const std::string digest = entry.value("digest", "");
    if (!expected_digest.empty()) {
      if (digest == expected_digest) return digest;
      continue;
    }
    if (entry.value("mediaType", "") == "application/vnd.oci.image.index.v1+json") return digest;
  }
  if (!expected_digest.empty()) {
    throw Fatal(ExitCode::build_failed, index_file.string() + " has no entry for " + expected_digest +
                                            ", the digest the builder reported; remove the layout directory and build again");
  }
  throw Fatal(ExitCode::build_failed, index_file.string() +
                                          " has no image index entry; the builder wrote a single-platform image");
}

std::string tag_of(const std::string& reference) {
  std::string name = reference.substr(0, reference.find('@'));
  const auto slash = name.rfind('/');
  const auto colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "latest";
  return name.substr(colon + 1);
}

}  // namespace multipush::build::detail
