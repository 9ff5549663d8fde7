#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "multipush/output/printer.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/report/notify.hpp"
#include "report/support.hpp"
#include "report/webhook.hpp"

extern char** environ;

using multipush::config::Notify;
using multipush::config::NotifyOn;
using multipush::report::RunLog;
using multipush::report::RunSummary;
using report_test::read_lines;
using report_test::TempDir;

namespace {

// Runs tests/support/webhook_receiver.py on 127.0.0.1 and stops it by PID.
class Receiver {
 public:
  Receiver(const std::filesystem::path& record_file, const std::string& statuses)
      : record_file_(record_file) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
    const std::string script = std::string(MULTIPUSH_SOURCE_DIR) + "/tests/support/webhook_receiver.py";
    std::vector<std::string> args{"/usr/bin/python3", script, record_file.string(), "--status", statuses};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    REQUIRE(spawned == 0);

    // The first stdout line is the port.
    std::FILE* out = ::fdopen(pipe_fds[0], "r");
    char line[64] = {};
    const bool read = std::fgets(line, sizeof line, out) != nullptr;
    std::fclose(out);
    if (!read) {
      // The constructor throws below, so the destructor would not stop it.
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    REQUIRE(read);
    port_ = std::stoi(line);
  }

  ~Receiver() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> result;
    for (const auto& line : read_lines(record_file_)) result.push_back(nlohmann::json::parse(line));
    return result;
  }

 private:
  std::filesystem::path record_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Computes the expected signature with OpenSSL directly, independent of
// the code under test.
std::string expected_signature(const std::string& body, const std::string& secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return "sha256=" + hex;
}

RunSummary failed_run() {
  RunSummary summary;
  summary.run_id = "20261204T201500Z-3fa9c1";
  summary.status = "partial";
  summary.exit_code = 4;
  summary.seconds = 3.5;
  summary.repository = "acme/app";
  summary.ref = "refs/heads/main";
  summary.sha = "4f3c2b1a0987654321fedcba0987654321fedcba";
  summary.run_url = "https://github.com/acme/app/actions/runs/42";
  summary.failed_targets = {};
  summary.failed_registries = {"ghcr.io"};
  summary.outcomes = {
      {"server", "docker.io", "acme/server", {"main"}, "sha256:aaaa", "pushed", ""},
      {"server", "ghcr.io", "acme/server", {"main"}, "", "failed", "denied"},
  };
  return summary;
}

Notify webhook(const std::string& url, NotifyOn on = NotifyOn::failure) {
  Notify notification;
  notification.type = "webhook";
  notification.url = url;
  notification.on = on;
  return notification;
}

std::vector<nlohmann::json> notification_events(const RunLog& log) {
  std::vector<nlohmann::json> events;
  for (const auto& line : read_lines(log.path())) {
    auto event = nlohmann::json::parse(line);
    if (event["event"] == "notification") events.push_back(event);
  }
  return events;
}

}  // namespace

TEST_CASE("webhook signature matches RFC 4231") {
  // RFC 4231 test case 2.
  CHECK(multipush::report::detail::webhook_signature("what do ya want for nothing?", "Jefe") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook body schema") {
  const auto body = nlohmann::json::parse(multipush::report::detail::webhook_body(failed_run()));
  CHECK(body["schema"] == 1);
  CHECK(body["run_id"] == "20261204T201500Z-3fa9c1");
  CHECK(body["status"] == "partial");
  CHECK(body["exit_code"] == 4);
  CHECK(body["repository"] == "acme/app");
  CHECK(body["ref"] == "refs/heads/main");
  CHECK(body["sha"] == "4f3c2b1a0987654321fedcba0987654321fedcba");
  CHECK(body["run_url"] == "https://github.com/acme/app/actions/runs/42");
  CHECK(body["seconds"] == 3.5);
  CHECK(body["failed_targets"] == nlohmann::json::array());
  CHECK(body["failed_registries"] == nlohmann::json{"ghcr.io"});
  REQUIRE(body["outcomes"].size() == 2);
  CHECK(body["outcomes"][1] == nlohmann::json{{"target", "server"},
                                              {"registry", "ghcr.io"},
                                              {"repository", "acme/server"},
                                              {"tags", {"main"}},
                                              {"digest", ""},
                                              {"status", "failed"},
                                              {"error", "denied"},
                                              {"note", ""}});
}

TEST_CASE("webhook body redacts secrets") {
  multipush::output::register_secret("notify-body-secret-31");
  auto summary = failed_run();
  summary.outcomes[1].error = "denied with notify-body-secret-31";
  const std::string body = multipush::report::detail::webhook_body(summary);
  CHECK(body.find("notify-body-secret-31") == std::string::npos);
}

TEST_CASE("notify filters by result") {
  using multipush::report::detail::should_notify;
  auto failed = failed_run();
  auto succeeded = failed_run();
  succeeded.exit_code = 0;
  succeeded.status = "success";
  CHECK(should_notify(webhook("u", NotifyOn::failure), failed));
  CHECK_FALSE(should_notify(webhook("u", NotifyOn::failure), succeeded));
  CHECK(should_notify(webhook("u", NotifyOn::success), succeeded));
  CHECK_FALSE(should_notify(webhook("u", NotifyOn::success), failed));
  CHECK(should_notify(webhook("u", NotifyOn::always), failed));
  CHECK(should_notify(webhook("u", NotifyOn::always), succeeded));
}

TEST_CASE("notify filters by target and registry") {
  using multipush::report::detail::should_notify;
  const auto failed = failed_run();

  auto on_ghcr = webhook("u");
  on_ghcr.registries = {"ghcr.io"};
  CHECK(should_notify(on_ghcr, failed));

  // docker.io succeeded, so a failure notification scoped to it stays quiet.
  auto on_docker_hub = webhook("u");
  on_docker_hub.registries = {"docker.io"};
  CHECK_FALSE(should_notify(on_docker_hub, failed));
  on_docker_hub.on = NotifyOn::always;
  CHECK(should_notify(on_docker_hub, failed));

  auto on_web = webhook("u");
  on_web.targets = {"web"};
  CHECK_FALSE(should_notify(on_web, failed));

  auto build_failed = failed;
  build_failed.outcomes.clear();
  build_failed.failed_targets = {"web"};
  CHECK(should_notify(on_web, build_failed));
}

TEST_CASE("notify hides url path in log") {
  using multipush::report::detail::url_for_log;
  CHECK(url_for_log("https://hooks.slack.com/services/T1/B2/XYZ") == "https://hooks.slack.com/****");
  CHECK(url_for_log("https://oapi.dingtalk.com/robot/send?access_token=abc") ==
        "https://oapi.dingtalk.com/****");
  CHECK(url_for_log("http://user:pw@127.0.0.1:8080") == "http://127.0.0.1:8080");
  CHECK(url_for_log("http://127.0.0.1:8080/") == "http://127.0.0.1:8080");
  CHECK(url_for_log("not a url") == "****");
}

TEST_CASE("notify posts signed webhook") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "200");
  RunLog log(temp.path() / "runs", 5);
  auto notification = webhook(receiver.url("/hooks/build"));
  notification.secret = "webhook-shared-secret";

  multipush::report::notify({notification}, failed_run(), log);

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const auto& request = requests[0];
  CHECK(request["method"] == "POST");
  CHECK(request["path"] == "/hooks/build");
  CHECK(request["headers"]["content-type"] == "application/json");
  const std::string body = request["body"];
  CHECK(request["headers"]["x-multipush-signature"] == expected_signature(body, "webhook-shared-secret"));
  const auto parsed = nlohmann::json::parse(body);
  CHECK(parsed["schema"] == 1);
  CHECK(parsed["run_id"] == "20261204T201500Z-3fa9c1");
  CHECK(parsed["failed_registries"] == nlohmann::json{"ghcr.io"});
  CHECK(parsed["outcomes"].size() == 2);

  const auto events = notification_events(log);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "webhook");
  CHECK(events[0]["ok"] == true);
  CHECK(events[0]["status"] == 200);
  CHECK(events[0]["url"] == receiver.url("/****"));
  CHECK_FALSE(events[0].contains("error"));
}

TEST_CASE("notify without secret sends no signature") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "200");
  RunLog log(temp.path() / "runs", 5);
  multipush::report::notify({webhook(receiver.url("/"))}, failed_run(), log);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK_FALSE(requests[0]["headers"].contains("x-multipush-signature"));
}

TEST_CASE("notify skips unmatched result") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "200");
  RunLog log(temp.path() / "runs", 5);
  multipush::report::notify({webhook(receiver.url("/"), NotifyOn::success)}, failed_run(), log);
  CHECK_FALSE(std::filesystem::exists(temp.path() / "requests.jsonl"));
  CHECK(notification_events(log).empty());
}

TEST_CASE("notify retries once after 5xx") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "503,200");
  RunLog log(temp.path() / "runs", 5);
  multipush::report::notify({webhook(receiver.url("/"))}, failed_run(), log);
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0]["body"] == requests[1]["body"]);
  const auto events = notification_events(log);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["ok"] == true);
  CHECK(events[0]["attempts"] == 2);
}

TEST_CASE("notify failing receiver does not throw") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "500");
  RunLog log(temp.path() / "runs", 5);
  std::ostringstream out;
  std::ostringstream err;
  multipush::output::Printer printer({.mode = multipush::output::Mode::plain}, out, err);

  CHECK_NOTHROW(multipush::report::notify({webhook(receiver.url("/"))}, failed_run(), log, &printer));

  CHECK(receiver.requests().size() == 2);
  const auto events = notification_events(log);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["ok"] == false);
  CHECK(events[0]["status"] == 500);
  CHECK(events[0]["error"] == "the receiver returned HTTP 500");
  CHECK(err.str().find("warning: webhook notification to") != std::string::npos);
}

TEST_CASE("notify 4xx is not retried") {
  TempDir temp;
  Receiver receiver(temp.path() / "requests.jsonl", "404");
  RunLog log(temp.path() / "runs", 5);
  multipush::report::notify({webhook(receiver.url("/"))}, failed_run(), log);
  CHECK(receiver.requests().size() == 1);
  CHECK(notification_events(log).at(0)["attempts"] == 1);
}

TEST_CASE("notify unreachable receiver does not throw") {
  TempDir temp;
  RunLog log(temp.path() / "runs", 5);
  // Port 1 on loopback has no listener, so the connection is refused.
  CHECK_NOTHROW(multipush::report::notify({webhook("http://127.0.0.1:1/hook")}, failed_run(), log));
  const auto events = notification_events(log);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["ok"] == false);
  CHECK(events[0]["attempts"] == 2);
  CHECK_FALSE(events[0]["error"].get<std::string>().empty());
  CHECK_FALSE(events[0].contains("status"));
}

TEST_CASE("notify unsupported type is logged") {
  TempDir temp;
  RunLog log(temp.path() / "runs", 5);
  std::ostringstream out;
  std::ostringstream err;
  multipush::output::Printer printer({.mode = multipush::output::Mode::plain}, out, err);
  Notify notification;
  notification.type = "dingtalk";
  notification.url = "https://oapi.dingtalk.com/robot/send?access_token=abc";

  CHECK_NOTHROW(multipush::report::notify({notification}, failed_run(), log, &printer));

  const auto events = notification_events(log);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "dingtalk");
  CHECK(events[0]["ok"] == false);
  CHECK(events[0]["error"] == "notification type dingtalk is not supported yet");
  CHECK(events[0]["url"] == "https://oapi.dingtalk.com/****");
  CHECK(err.str() == "warning: notification type dingtalk is not supported yet; it was skipped\n");
}
