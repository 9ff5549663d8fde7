#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "multipush/output/printer.hpp"
#include "multipush/output/progress.hpp"

using namespace multipush::output;

namespace {

// Intervals long enough that only stop() draws, so the output is fixed.
constexpr Progress::Intervals kNoTicks{std::chrono::minutes(10), std::chrono::minutes(10)};

}  // namespace

TEST_CASE("format_bytes uses binary units") {
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(280ULL * 1024 * 1024) == "280.0 MiB");
}

TEST_CASE("tty progress row shows sent of total") {
  std::ostringstream out;
  std::ostringstream err;
  std::ostringstream terminal;
  Printer printer({.mode = Mode::tty}, out, err);
  {
    Progress progress(printer, terminal, kNoTicks);
    progress.add_row("ghcr.io/acme/app", 2, 2048);
    progress.sent("ghcr.io/acme/app", 1024);
    progress.blob_done("ghcr.io/acme/app", "sha256:0123456789abcdef", 1024, "uploaded");
    progress.stop();
  }
  const std::string text = terminal.str();
  CHECK(text.find("ghcr.io/acme/app: 1.0 KiB of 2.0 KiB sent") != std::string::npos);
  CHECK(text.find("1/2 blobs") != std::string::npos);
}

TEST_CASE("plain progress total shows sent of total") {
  std::ostringstream out;
  std::ostringstream err;
  std::ostringstream terminal;
  Printer printer({.mode = Mode::plain}, out, err);
  {
    Progress progress(printer, terminal, kNoTicks);
    progress.add_row("docker.io/acme/app", 1, 4096);
    progress.sent("docker.io/acme/app", 4096);
    progress.blob_done("docker.io/acme/app", "sha256:0123456789abcdef", 4096, "uploaded");
    progress.stop();
  }
  const std::string text = err.str();
  CHECK(text.find("total: 4.0 KiB of 4.0 KiB sent, 1/1 blobs") != std::string::npos);
  CHECK(terminal.str().empty());
}
