#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "multipush/output/printer.hpp"
#include "multipush/output/redact.hpp"

using namespace multipush::output;

namespace {

struct Captured {
  std::ostringstream out;
  std::ostringstream err;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// Prints one of each kind of message.
void print_all(Printer& printer) {
  printer.step("Pushing");
  printer.info("pushed server to ghcr.io");
  printer.warning("retrying docker.io");
  printer.error("Push failed", "docker.io rejected the upload");
  printer.summary("1 of 2 registries failed\n");
}

}  // namespace

TEST_CASE("printer parses mode names") {
  CHECK(parse_mode("auto") == Mode::automatic);
  CHECK(parse_mode("tty") == Mode::tty);
  CHECK(parse_mode("plain") == Mode::plain);
  CHECK(parse_mode("quiet") == Mode::quiet);
  CHECK(parse_mode("json") == Mode::json);
  CHECK_FALSE(parse_mode("rawjson").has_value());
  CHECK(mode_name(Mode::automatic) == "auto");
  CHECK(mode_name(Mode::json) == "json");
}

TEST_CASE("printer resolves auto mode") {
  CHECK(resolve_mode(Mode::automatic, true) == Mode::tty);
  CHECK(resolve_mode(Mode::automatic, false) == Mode::plain);
  CHECK(resolve_mode(Mode::quiet, true) == Mode::quiet);
}

TEST_CASE("printer escapes workflow commands") {
  CHECK(escape_workflow_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b");
  CHECK(escape_workflow_property("a: b, c%\n") == "a%3A b%2C c%25%0A");
}

TEST_CASE("printer plain mode") {
  Captured captured;
  {
    Printer printer({.mode = Mode::plain}, captured.out, captured.err);
    CHECK(printer.mode() == Mode::plain);
    print_all(printer);
  }
  CHECK(captured.out.str().empty());
  CHECK(lines_of(captured.err.str()) == std::vector<std::string>{
                                            "==> Pushing",
                                            "pushed server to ghcr.io",
                                            "warning: retrying docker.io",
                                            "error: Push failed: docker.io rejected the upload",
                                            "1 of 2 registries failed",
                                        });
}

TEST_CASE("printer auto mode on a stream is plain") {
  Captured captured;
  Printer printer({}, captured.out, captured.err);
  CHECK(printer.mode() == Mode::plain);
}

TEST_CASE("printer tty mode colours") {
  unsetenv("NO_COLOR");
  Captured captured;
  {
    Printer printer({.mode = Mode::tty}, captured.out, captured.err);
    print_all(printer);
  }
  auto lines = lines_of(captured.err.str());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "\x1b[1m==> Pushing\x1b[0m");
  CHECK(lines[2] == "\x1b[33mwarning:\x1b[0m retrying docker.io");
  CHECK(lines[3] == "\x1b[31merror:\x1b[0m Push failed: docker.io rejected the upload");
  CHECK(captured.out.str().empty());
}

TEST_CASE("printer tty mode honours NO_COLOR") {
  setenv("NO_COLOR", "1", 1);
  Captured captured;
  {
    Printer printer({.mode = Mode::tty}, captured.out, captured.err);
    printer.step("Building");
  }
  unsetenv("NO_COLOR");
  CHECK(captured.err.str() == "==> Building\n");
}

TEST_CASE("printer quiet mode") {
  Captured captured;
  {
    Printer printer({.mode = Mode::quiet}, captured.out, captured.err);
    print_all(printer);
    printer.event({{"type", "blob"}});
  }
  CHECK(captured.out.str().empty());
  CHECK(lines_of(captured.err.str()) == std::vector<std::string>{
                                            "error: Push failed: docker.io rejected the upload",
                                            "1 of 2 registries failed",
                                        });
}

TEST_CASE("printer json mode") {
  Captured captured;
  {
    Printer printer({.mode = Mode::json, .github_actions = true}, captured.out, captured.err);
    print_all(printer);
    printer.event({{"type", "blob"}, {"digest", "sha256:abc"}, {"bytes", 12}});
  }
  CHECK(captured.err.str().empty());
  auto lines = lines_of(captured.out.str());
  REQUIRE(lines.size() == 6);
  std::vector<nlohmann::json> events;
  for (const auto& line : lines) events.push_back(nlohmann::json::parse(line));
  CHECK(events[0] == nlohmann::json{{"type", "step"}, {"title", "Pushing"}});
  CHECK(events[1] == nlohmann::json{{"type", "info"}, {"message", "pushed server to ghcr.io"}});
  CHECK(events[2] == nlohmann::json{{"type", "warning"}, {"message", "retrying docker.io"}});
  CHECK(events[3] == nlohmann::json{{"type", "error"},
                                    {"title", "Push failed"},
                                    {"message", "docker.io rejected the upload"}});
  CHECK(events[4] == nlohmann::json{{"type", "summary"}, {"text", "1 of 2 registries failed\n"}});
  CHECK(events[5] == nlohmann::json{{"type", "blob"}, {"digest", "sha256:abc"}, {"bytes", 12}});
}

TEST_CASE("printer github actions commands") {
  Captured captured;
  {
    Printer printer({.mode = Mode::plain, .github_actions = true}, captured.out, captured.err);
    printer.step("Building");
    printer.info("built server");
    printer.step("Pushing: 2 registries");
    printer.warning("slow\nregistry");
    printer.error("Push failed: ghcr.io, docker.io", "denied\n100% of uploads");
    printer.summary("done");
  }
  CHECK(captured.out.str().empty());
  CHECK(lines_of(captured.err.str()) ==
        std::vector<std::string>{
            "::group::Building",
            "built server",
            "::endgroup::",
            "::group::Pushing: 2 registries",
            "::warning::slow%0Aregistry",
            "::error title=Push failed%3A ghcr.io%2C docker.io::denied%0A100%25 of uploads",
            "::endgroup::",
            "done",
        });
}

TEST_CASE("printer closes group on destruction") {
  Captured captured;
  {
    Printer printer({.mode = Mode::plain, .github_actions = true}, captured.out, captured.err);
    printer.step("Verifying");
  }
  CHECK(captured.err.str() == "::group::Verifying\n::endgroup::\n");
}

TEST_CASE("printer result goes to stdout") {
  for (Mode mode : {Mode::plain, Mode::quiet, Mode::json}) {
    Captured captured;
    Printer printer({.mode = mode}, captured.out, captured.err);
    printer.result("ghcr.io/acme/app:1.2.3\nghcr.io/acme/app:latest");
    CHECK(captured.out.str() == "ghcr.io/acme/app:1.2.3\nghcr.io/acme/app:latest\n");
    CHECK(captured.err.str().empty());
  }
}

TEST_CASE("printer redacts every string") {
  register_secret("printer-secret-xyz");
  Captured captured;
  {
    Printer printer({.mode = Mode::plain}, captured.out, captured.err);
    printer.step("step printer-secret-xyz");
    printer.info("info printer-secret-xyz");
    printer.warning("warning printer-secret-xyz");
    printer.error("title printer-secret-xyz", "message printer-secret-xyz");
    printer.summary("summary printer-secret-xyz");
    printer.result("result printer-secret-xyz");
  }
  CHECK(captured.err.str().find("printer-secret-xyz") == std::string::npos);
  CHECK(captured.out.str().find("printer-secret-xyz") == std::string::npos);
  CHECK(captured.err.str().find("info ****") != std::string::npos);

  Captured json;
  {
    Printer printer({.mode = Mode::json}, json.out, json.err);
    printer.event({{"message", "printer-secret-xyz"}, {"password", "pw-value"}});
  }
  CHECK(nlohmann::json::parse(json.out.str()) == nlohmann::json{{"message", "****"}, {"password", "****"}});
}

TEST_CASE("printer keeps lines whole across threads") {
  Captured captured;
  {
    Printer printer({.mode = Mode::plain}, captured.out, captured.err);
    std::vector<std::thread> workers;
    for (int worker = 0; worker < 4; ++worker) {
      workers.emplace_back([&printer, worker] {
        for (int i = 0; i < 200; ++i)
          printer.info("worker " + std::to_string(worker) + " line " + std::to_string(i));
      });
    }
    for (auto& thread : workers) thread.join();
  }
  auto lines = lines_of(captured.err.str());
  CHECK(lines.size() == 800);
  for (const auto& line : lines) {
    CHECK(line.starts_with("worker "));
    CHECK(line.find(" line ") != std::string::npos);
  }
}
