#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "multipush/output/redact.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/util/error.hpp"
#include "report/support.hpp"

using multipush::report::RunLog;
using report_test::read_lines;
using report_test::TempDir;

REGISTER_LISTENER("report-failures", 1, report_test::FailureListener);

namespace {

void touch(const std::filesystem::path& path) {
  std::ofstream(path) << "{}\n";
}

}  // namespace

TEST_CASE("run log file name") {
  TempDir temp;
  const auto dir = temp.path() / "nested" / "runs";
  RunLog log(dir, 50);
  CHECK(std::regex_match(log.run_id(), std::regex(R"(\d{8}T\d{6}Z-[0-9a-f]{6})")));
  CHECK(log.path() == dir / (log.run_id() + ".jsonl"));
  CHECK(std::filesystem::is_regular_file(log.path()));
  CHECK(multipush::report::is_run_id(log.run_id()));
  CHECK_FALSE(multipush::report::is_run_id("20261204T201500Z-3FA9C1"));
  CHECK_FALSE(multipush::report::is_run_id("notes"));
}

TEST_CASE("run log run ids differ") {
  TempDir temp;
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(RunLog(temp.path(), 100).run_id());
  CHECK(ids.size() == 20);
}

TEST_CASE("run log writes one object a line") {
  TempDir temp;
  RunLog log(temp.path(), 50);
  log.write("run start", {{"version", "0.1.0"}, {"targets", {"server", "web"}}});
  log.write("blob", {{"digest", "sha256:abc"}, {"bytes", 1234}, {"time", "ignored"}});
  log.write("run end");
  log.write("odd", "not an object");
  log.write("binary", {{"stderr", std::string("bad \xff byte")}});
  CHECK_FALSE(log.write_error().has_value());

  const auto lines = read_lines(log.path());
  REQUIRE(lines.size() == 5);
  std::vector<nlohmann::json> events;
  for (const auto& line : lines) events.push_back(nlohmann::json::parse(line));

  // "time" and "event" come first in every line.
  CHECK(lines[0].starts_with(R"({"time":")"));
  CHECK(lines[0].find(R"("event":"run start")") != std::string::npos);
  for (const auto& event : events) {
    CHECK(std::regex_match(event["time"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  }
  CHECK(events[0]["event"] == "run start");
  CHECK(events[0]["targets"] == nlohmann::json{"server", "web"});
  CHECK(events[1]["bytes"] == 1234);
  CHECK(events[1]["time"] != "ignored");
  CHECK(events[2].size() == 2);
  CHECK(events[3]["data"] == "not an object");
  CHECK(events[4]["stderr"].get<std::string>().starts_with("bad "));
}

TEST_CASE("run log redacts nested secrets") {
  multipush::output::register_secret("run-log-secret-7781");
  TempDir temp;
  RunLog log(temp.path(), 50);
  log.write("auth",
            {{"registry", "ghcr.io"},
             {"attempts",
              {{{"error", "denied for run-log-secret-7781"}}, {{"header", "Authorization: Bearer xyz"}}}},
             {"password", "plain"}});
  const std::string text = report_test::read_file(log.path());
  CHECK(text.find("run-log-secret-7781") == std::string::npos);
  const auto event = nlohmann::json::parse(text);
  CHECK(event["attempts"][0]["error"] == "denied for ****");
  CHECK(event["attempts"][1]["header"] == "Authorization: Bearer ****");
  CHECK(event["password"] == "****");
  CHECK(event["registry"] == "ghcr.io");
}

TEST_CASE("run log prunes to keep") {
  TempDir temp;
  const std::vector<std::string> old_runs{"20240101T000000Z-000001", "20240102T000000Z-000002",
                                          "20240103T000000Z-000003", "20240104T000000Z-000004"};
  for (const auto& run : old_runs) touch(temp.path() / (run + ".jsonl"));
  touch(temp.path() / "notes.txt");
  touch(temp.path() / "not-a-run.jsonl");

  RunLog log(temp.path(), 3);
  const auto runs = multipush::report::list_runs(temp.path());
  REQUIRE(runs.size() == 3);
  CHECK(runs[0] == log.path());
  CHECK(runs[1].stem() == "20240104T000000Z-000004");
  CHECK(runs[2].stem() == "20240103T000000Z-000003");
  CHECK_FALSE(std::filesystem::exists(temp.path() / "20240101T000000Z-000001.jsonl"));
  CHECK(std::filesystem::exists(temp.path() / "notes.txt"));
  CHECK(std::filesystem::exists(temp.path() / "not-a-run.jsonl"));
}

TEST_CASE("run log keeps current run") {
  TempDir temp;
  // A run log from the future sorts first, but the current run still stays.
  touch(temp.path() / "29991231T235959Z-ffffff.jsonl");
  RunLog log(temp.path(), 0);
  CHECK(std::filesystem::exists(log.path()));
  CHECK(multipush::report::list_runs(temp.path()) == std::vector<std::filesystem::path>{log.path()});
}

TEST_CASE("run log lists newest first") {
  TempDir temp;
  CHECK(multipush::report::list_runs(temp.path() / "missing").empty());
  touch(temp.path() / "20250101T000000Z-aaaaaa.jsonl");
  touch(temp.path() / "20260101T000000Z-000000.jsonl");
  touch(temp.path() / "20250601T000000Z-bbbbbb.jsonl");
  const auto runs = multipush::report::list_runs(temp.path());
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].stem() == "20260101T000000Z-000000");
  CHECK(runs[1].stem() == "20250601T000000Z-bbbbbb");
  CHECK(runs[2].stem() == "20250101T000000Z-aaaaaa");
}

TEST_CASE("run log rejects unwritable directory") {
  TempDir temp;
  touch(temp.path() / "file");
  CHECK_THROWS_AS(RunLog(temp.path() / "file" / "runs", 5), multipush::UsageError);
}

TEST_CASE("run log writes from threads") {
  TempDir temp;
  RunLog log(temp.path(), 50);
  std::vector<std::thread> workers;
  for (int worker = 0; worker < 4; ++worker) {
    workers.emplace_back([&log, worker] {
      for (int i = 0; i < 100; ++i) log.write("blob", {{"worker", worker}, {"index", i}});
    });
  }
  for (auto& thread : workers) thread.join();
  const auto lines = read_lines(log.path());
  CHECK(lines.size() == 400);
  for (const auto& line : lines) CHECK(nlohmann::json::parse(line)["event"] == "blob");
}

TEST_CASE("format_time uses milliseconds") {
  using namespace std::chrono;
  const auto time = sys_days{year{2026} / 12 / 4} + hours{20} + minutes{15} + seconds{1} + milliseconds{7};
  CHECK(multipush::report::format_time(time) == "2026-12-04T20:15:01.007Z");
}
