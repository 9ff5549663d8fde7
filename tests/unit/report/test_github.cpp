#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "multipush/output/redact.hpp"
#include "multipush/report/github.hpp"
#include "multipush/util/error.hpp"
#include "report/support.hpp"

using report_test::read_file;
using report_test::TempDir;

namespace {

// Sets an environment variable for one test and restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Parses GITHUB_OUTPUT text as the runner does: `name<<DELIM` starts a value
// that ends at a line equal to DELIM.
std::vector<std::pair<std::string, std::string>> parse_outputs(const std::string& text,
                                                               std::vector<std::string>& delimiters) {
  std::vector<std::pair<std::string, std::string>> outputs;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    const size_t marker = line.find("<<");
    REQUIRE(marker != std::string::npos);
    const std::string name = line.substr(0, marker);
    const std::string delimiter = line.substr(marker + 2);
    delimiters.push_back(delimiter);
    std::string value;
    bool first = true;
    bool closed = false;
    for (std::string value_line; std::getline(stream, value_line);) {
      if (value_line == delimiter) {
        closed = true;
        break;
      }
      value += (first ? "" : "\n") + value_line;
      first = false;
    }
    REQUIRE(closed);
    outputs.emplace_back(name, value);
  }
  return outputs;
}

}  // namespace

TEST_CASE("github outputs use heredoc delimiters") {
  TempDir temp;
  const auto file = temp.path() / "output";
  std::ofstream(file) << "earlier=1\n";
  ScopedEnv env("GITHUB_OUTPUT", file.string());

  const std::string metadata = "{\n  \"server\": {\"digest\": \"sha256:abc\"}\n}";
  multipush::report::write_github_outputs(
      {{"metadata", metadata},
       {"server-digest", "sha256:abc"},
       {"server-tags", "ghcr.io/acme/server:1.2.3\nghcr.io/acme/server:latest"},
       {"empty", ""}});
  const std::string text = read_file(file);
  REQUIRE(text.starts_with("earlier=1\n"));

  std::vector<std::string> delimiters;
  const auto outputs = parse_outputs(text.substr(std::string("earlier=1\n").size()), delimiters);
  REQUIRE(outputs.size() == 4);
  CHECK(outputs[0] == std::pair<std::string, std::string>{"metadata", metadata});
  CHECK(outputs[1] == std::pair<std::string, std::string>{"server-digest", "sha256:abc"});
  CHECK(outputs[2].second == "ghcr.io/acme/server:1.2.3\nghcr.io/acme/server:latest");
  CHECK(outputs[3] == std::pair<std::string, std::string>{"empty", ""});
  for (const auto& delimiter : delimiters) {
    CHECK(std::regex_match(delimiter, std::regex("ghadelimiter_[0-9a-f]{32}")));
  }
  CHECK(delimiters[0] != delimiters[1]);
}

TEST_CASE("github outputs redact values") {
  multipush::output::register_secret("github-output-secret-55");
  TempDir temp;
  const auto file = temp.path() / "output";
  ScopedEnv env("GITHUB_OUTPUT", file.string());
  multipush::report::write_github_outputs({{"note", "token github-output-secret-55"}});
  CHECK(read_file(file).find("github-output-secret-55") == std::string::npos);
}

TEST_CASE("github outputs reject bad names") {
  TempDir temp;
  ScopedEnv env("GITHUB_OUTPUT", (temp.path() / "output").string());
  CHECK_THROWS_AS(multipush::report::write_github_outputs({{"a<<b", "x"}}), multipush::Fatal);
  CHECK_THROWS_AS(multipush::report::write_github_outputs({{"a\nb", "x"}}), multipush::Fatal);
  CHECK_THROWS_AS(multipush::report::write_github_outputs({{"", "x"}}), multipush::Fatal);
}

TEST_CASE("github outputs without runner") {
  unsetenv("GITHUB_OUTPUT");
  unsetenv("GITHUB_STEP_SUMMARY");
  CHECK_NOTHROW(multipush::report::write_github_outputs({{"digest", "sha256:abc"}}));
  CHECK_NOTHROW(multipush::report::append_step_summary("# nothing"));
}

TEST_CASE("github step summary appends") {
  TempDir temp;
  const auto file = temp.path() / "summary.md";
  ScopedEnv env("GITHUB_STEP_SUMMARY", file.string());
  multipush::report::append_step_summary("### first");
  multipush::report::append_step_summary("### second\n");
  CHECK(read_file(file) == "### first\n### second\n");
}

TEST_CASE("github step summary is cut at 1 MiB") {
  TempDir temp;
  const auto file = temp.path() / "summary.md";
  ScopedEnv env("GITHUB_STEP_SUMMARY", file.string());
  multipush::report::append_step_summary(std::string(2 * 1024 * 1024, 'x'));
  const std::string text = read_file(file);
  CHECK(text.size() <= 1024 * 1024);
  CHECK(text.find("cut at 1 MiB") != std::string::npos);
}

TEST_CASE("github step summary unwritable") {
  TempDir temp;
  ScopedEnv env("GITHUB_STEP_SUMMARY", (temp.path() / "missing" / "summary.md").string());
  CHECK_THROWS_AS(multipush::report::append_step_summary("x"), multipush::Fatal);
}

TEST_CASE("metadata file written") {
  TempDir temp;
  const auto file = temp.path() / "out" / "metadata.json";
  const nlohmann::json metadata = {
      {"server",
       {{"digest", "sha256:abc"},
        {"platforms", {"linux/amd64", "linux/arm64"}},
        {"registries", {{"docker.io", {{"repository", "openim/openkf-server"}, {"status", "pushed"}}}}}}}};
  multipush::report::write_metadata_file(file, metadata);
  CHECK(nlohmann::json::parse(read_file(file)) == metadata);
  CHECK(read_file(file).ends_with("}\n"));

  multipush::report::write_metadata_file(file, nlohmann::json::object());
  CHECK(read_file(file) == "{}\n");
  // No temporary file is left next to it.
  CHECK(std::distance(std::filesystem::directory_iterator(file.parent_path()), {}) == 1);
}

TEST_CASE("metadata file unwritable") {
  TempDir temp;
  std::ofstream(temp.path() / "file") << "x";
  CHECK_THROWS_AS(multipush::report::write_metadata_file(temp.path() / "file" / "metadata.json", {}),
                  multipush::UsageError);
}
