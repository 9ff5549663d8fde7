// Entry point: the Docker CLI plugin handshake, docker's global options,
// signal handling, and the one place that maps errors to exit codes.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "cli/app.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"
#include "multipush/version.hpp"

namespace {

using multipush::ExitCode;

// Printed for `docker-cli-plugin-metadata`: static, offline, and independent
// of any config file, because the docker CLI runs it for every `docker --help`.
void print_plugin_metadata() {
  std::printf(
      "{\"SchemaVersion\":\"0.1.0\",\"Vendor\":\"docker-multipush\",\"Version\":\"v%s\","
      "\"ShortDescription\":\"Build once, push a multi-platform image to every registry\","
      "\"URL\":\"%s\"}\n",
      multipush::kVersion, multipush::kProjectUrl);
}

// Blocks SIGINT and SIGTERM in every thread and handles them on a dedicated
// thread. The first one cancels the run: children get SIGTERM and workers stop
// at the next step. The third one exits at once, as the docker CLI does.
void start_signal_thread() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::thread([signals] {
    int count = 0;
    while (true) {
      int received = 0;
      if (sigwait(&signals, &received) != 0) continue;
      ++count;
      if (count >= 3) {
        static const char message[] = "got 3 SIGTERM/SIGINTs, forcefully exiting\n";
        (void)!::write(STDERR_FILENO, message, sizeof(message) - 1);
        std::_Exit(static_cast<int>(ExitCode::interrupted));
      }
      multipush::pipeline::request_cancel();
      multipush::util::terminate_children();
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "docker-cli-plugin-metadata") {
    print_plugin_metadata();
    return 0;
  }

  start_signal_thread();
  try {
    return static_cast<int>(multipush::cli::run(args));
  } catch (const multipush::Fatal& error) {
    std::fprintf(stderr, "error: %s\n", multipush::output::redact(error.what()).c_str());
    if (multipush::pipeline::cancel_requested()) return static_cast<int>(ExitCode::interrupted);
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "internal error: %s\n", multipush::output::redact(error.what()).c_str());
    if (multipush::pipeline::cancel_requested()) return static_cast<int>(ExitCode::interrupted);
    return static_cast<int>(ExitCode::internal);
  }
}
