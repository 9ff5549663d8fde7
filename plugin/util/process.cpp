#include "multipush/util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "multipush/util/env.hpp"

extern char** environ;

namespace multipush::util {
namespace {

std::mutex children_mutex;
std::set<pid_t> running_children;

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read_end = fds[0];
    write_end = fds[1];
    return true;
  }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~Pipe() {
    close_fd(read_end);
    close_fd(write_end);
  }
};

std::vector<std::string> build_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string item(*entry);
    auto eq = item.find('=');
    if (eq != std::string::npos && extra.contains(item.substr(0, eq))) continue;
    env.push_back(std::move(item));
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::optional<std::filesystem::path> find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return std::filesystem::path(program);
    return std::nullopt;
  }
  std::string path = get_env_or("PATH", "/usr/local/bin:/usr/bin:/bin");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::filesystem::path candidate = std::filesystem::path(dir) / program;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<ProcessResult> run_process(const std::vector<std::string>& argv,
                                         const ProcessOptions& options) {
  if (argv.empty()) return std::nullopt;
  auto program = find_program(argv[0]);
  if (!program) return std::nullopt;

  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open()) return std::nullopt;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read_end, STDIN_FILENO);
  if (options.capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out.write_end, STDOUT_FILENO);
  } else if (options.stdout_to_stderr) {
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  }
  if (options.capture_stderr) posix_spawn_file_actions_adddup2(&actions, err.write_end, STDERR_FILENO);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }

  std::vector<std::string> env = build_environment(options.extra_env);
  std::vector<char*> env_ptrs;
  for (auto& item : env) env_ptrs.push_back(item.data());
  env_ptrs.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  for (auto& item : args) arg_ptrs.push_back(item.data());
  arg_ptrs.push_back(nullptr);

  // The parent blocks SIGINT and SIGTERM for its signal thread and ignores
  // SIGPIPE; the child starts with an empty mask and default handlers.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty_mask, default_signals;
  sigemptyset(&empty_mask);
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  sigaddset(&default_signals, SIGINT);
  sigaddset(&default_signals, SIGTERM);
  posix_spawnattr_setsigmask(&attributes, &empty_mask);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc;
  {
    std::lock_guard lock(children_mutex);
    rc = ::posix_spawn(&pid, program->c_str(), &actions, &attributes, arg_ptrs.data(), env_ptrs.data());
    if (rc == 0) running_children.insert(pid);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) return std::nullopt;

  Pipe::close_fd(in.read_end);
  Pipe::close_fd(out.write_end);
  Pipe::close_fd(err.write_end);
  if (!options.capture_stdout) Pipe::close_fd(out.read_end);
  if (!options.capture_stderr) Pipe::close_fd(err.read_end);

  std::string input = options.stdin_data.value_or("");
  size_t written = 0;
  if (input.empty()) Pipe::close_fd(in.write_end);
  else ::fcntl(in.write_end, F_SETFL, O_NONBLOCK);

  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool term_sent = false;
  char buffer[65536];
  while (out.read_end >= 0 || err.read_end >= 0 || in.write_end >= 0) {
    std::vector<pollfd> fds;
    if (in.write_end >= 0) fds.push_back({in.write_end, POLLOUT, 0});
    if (out.read_end >= 0) fds.push_back({out.read_end, POLLIN, 0});
    if (err.read_end >= 0) fds.push_back({err.read_end, POLLIN, 0});
    int wait_ms = -1;
    if (options.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<long long>(0, left.count()));
      if (wait_ms == 0) {
        result.timed_out = true;
        ::kill(pid, term_sent ? SIGKILL : SIGTERM);
        term_sent = true;
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        wait_ms = 2000;
      }
    }
    int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    for (auto& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == in.write_end) {
        ssize_t n = ::write(in.write_end, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN) written = input.size();
        if (written >= input.size()) Pipe::close_fd(in.write_end);
        continue;
      }
      ssize_t n = ::read(fd.fd, buffer, sizeof(buffer));
      if (n > 0) {
        (fd.fd == out.read_end ? result.stdout_text : result.stderr_text).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        if (fd.fd == out.read_end) Pipe::close_fd(out.read_end);
        else Pipe::close_fd(err.read_end);
      }
    }
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(children_mutex);
    running_children.erase(pid);
  }
  result.exit_code = decode_status(status);
  return result;
}

void terminate_children() {
  std::lock_guard lock(children_mutex);
  for (pid_t pid : running_children) ::kill(pid, SIGTERM);
}

}  // namespace multipush::util
