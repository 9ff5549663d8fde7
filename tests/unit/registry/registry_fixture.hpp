#pragma once

// Starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 for a
// test: plain HTTP, or TLS with htpasswd basic auth and a throwaway CA.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "multipush/util/http.hpp"
#include "multipush/util/process.hpp"

extern char** environ;

namespace multipush::test {

namespace fs = std::filesystem;

class RegistryServer {
 public:
  enum class Mode { plain, tls_htpasswd };

  static constexpr const char* kUser = "tester";
  static constexpr const char* kPassword = "correct-horse-42";

  explicit RegistryServer(Mode mode) : mode_(mode) {
    std::string pattern = (fs::temp_directory_path() / "multipush-registry-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    port_ = free_port();
    host_ = "127.0.0.1:" + std::to_string(port_);
    if (mode_ == Mode::tls_htpasswd) {
      make_certificates();
      make_htpasswd();
    }
    write_config();
    start();
    try {
      wait_until_ready();
    } catch (...) {
      stop();
      throw;
    }
  }

  ~RegistryServer() {
    stop();
    std::error_code ec;
    if (keep_) {
      MESSAGE("registry files kept in " << dir_.string());
    } else {
      fs::remove_all(dir_, ec);
    }
  }

  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  // host:port, as in an image reference.
  const std::string& host() const { return host_; }
  // A certs.d directory holding this registry's CA (TLS mode only).
  fs::path certs_dir() const { return dir_ / "certs.d"; }
  // An empty certs.d directory.
  fs::path empty_certs_dir() const { return dir_ / "empty-certs.d"; }
  const fs::path& dir() const { return dir_; }
  // Keeps the directory, with the registry's log, for a failed test.
  void keep() { keep_ = true; }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    int port = ntohs(address.sin_port);
    ::close(fd);
    return port;
  }

  static void run(const std::vector<std::string>& argv, const fs::path& cwd) {
    util::ProcessOptions options;
    options.working_directory = cwd;
    options.timeout = std::chrono::seconds(60);
    auto result = util::run_process(argv, options);
    if (!result || result->exit_code != 0) {
      throw std::runtime_error(argv[0] + " failed: " + (result ? result->stderr_text : "not found"));
    }
  }

  void make_certificates() {
    fs::path tls = dir_ / "tls";
    fs::create_directories(tls);
    run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=multipush test CA"},
        tls);
    run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"},
        tls);
    std::ofstream(tls / "ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
    run({"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf"},
        tls);
    fs::create_directories(certs_dir() / host_);
    fs::copy_file(tls / "ca.crt", certs_dir() / host_ / "ca.crt");
    fs::create_directories(empty_certs_dir());
  }

  void make_htpasswd() {
    util::ProcessOptions options;
    auto result = util::run_process({"htpasswd", "-Bbn", kUser, kPassword}, options);
    if (!result || result->exit_code != 0) throw std::runtime_error("htpasswd failed");
    std::ofstream(dir_ / "htpasswd") << result->stdout_text;
  }

  void write_config() {
    std::ofstream config(dir_ / "config.yml");
    config << "version: 0.1\n"
           << "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
           << "storage:\n  filesystem:\n    rootdirectory: " << (dir_ / "data").string() << "\n"
           << "  delete:\n    enabled: true\n"
           << "http:\n  addr: " << host_ << "\n";
    if (mode_ == Mode::plain) {
      // Relative Location headers exercise URL resolution.
      config << "  relativeurls: true\n";
    } else {
      config << "  tls:\n    certificate: " << (dir_ / "tls/server.crt").string() << "\n"
             << "    key: " << (dir_ / "tls/server.key").string() << "\n"
             << "auth:\n  htpasswd:\n    realm: Registry Realm\n    path: " << (dir_ / "htpasswd").string() << "\n";
    }
  }

  void start() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = (dir_ / "registry.log").string();
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).starts_with("OTEL_TRACES_EXPORTER=")) continue;
      env.emplace_back(*entry);
    }
    env.emplace_back("OTEL_TRACES_EXPORTER=none");
    std::vector<char*> env_pointers;
    for (auto& item : env) env_pointers.push_back(item.data());
    env_pointers.push_back(nullptr);

    std::string config = (dir_ / "config.yml").string();
    std::vector<std::string> args = {"docker-registry", "serve", config};
    std::vector<char*> arg_pointers;
    for (auto& item : args) arg_pointers.push_back(item.data());
    arg_pointers.push_back(nullptr);

    int rc = ::posix_spawnp(&pid_, "docker-registry", &actions, nullptr, arg_pointers.data(), env_pointers.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start docker-registry");
  }

  void wait_until_ready() {
    http::TlsOptions tls;
    tls.verify_peer = false;
    http::Client client(tls);
    http::Request request;
    request.url = (mode_ == Mode::plain ? "http://" : "https://") + host_ + "/v2/";
    request.timeout = std::chrono::seconds(2);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto response = client.send(request);
      if (response && (response->status == 200 || response->status == 401)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    keep_ = true;
    std::ifstream log(dir_ / "registry.log");
    std::stringstream text;
    text << log.rdbuf();
    throw std::runtime_error("docker-registry did not respond on " + host_ + ": " + text.str());
  }

  Mode mode_;
  fs::path dir_;
  int port_ = 0;
  std::string host_;
  pid_t pid_ = -1;
  bool keep_ = false;
};

}  // namespace multipush::test
