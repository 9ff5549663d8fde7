#include <doctest/doctest.h>

#include "multipush/report/summary.hpp"

using multipush::report::Outcome;
using multipush::report::RunSummary;

namespace {

const std::string kDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

RunSummary partial_run() {
  RunSummary summary;
  summary.run_id = "20261204T201500Z-3fa9c1";
  summary.status = "partial";
  summary.exit_code = 4;
  summary.seconds = 12.34;
  summary.repository = "acme/app";
  summary.ref = "refs/tags/v1.2.3";
  summary.sha = "4f3c2b1a0987654321fedcba0987654321fedcba";
  summary.run_url = "https://github.com/acme/app/actions/runs/42";
  summary.failed_registries = {"registry.cn-hangzhou.aliyuncs.com"};
  summary.outcomes = {
      {"server", "docker.io", "openim/openkf-server", {"1.2.3", "latest"}, kDigest, "pushed", ""},
      {"server",
       "registry.cn-hangzhou.aliyuncs.com",
       "openimsdk/openkf-server",
       {"1.2.3", "latest"},
       "",
       "failed",
       "401 Unauthorized: check the username | password"},
      {"web", "ghcr.io", "openimsdk/openkf-web", {"1.2.3"}, kDigest, "verified", ""},
  };
  return summary;
}

}  // namespace

TEST_CASE("summary table snapshot") {
  const std::string expected =
      "Run 20261204T201500Z-3fa9c1: partial (exit code 4, 12.3 s)\n"
      "Failed registries: registry.cn-hangzhou.aliyuncs.com\n"
      "\n"
      "TARGET  REGISTRY                           TAGS          DIGEST               STATUS\n"
      "server  docker.io                          1.2.3,latest  sha256:0123456789ab  pushed\n"
      "server  registry.cn-hangzhou.aliyuncs.com  1.2.3,latest                       failed\n"
      "web     ghcr.io                            1.2.3         sha256:0123456789ab  verified\n"
      "\n"
      "Errors:\n"
      "  server on registry.cn-hangzhou.aliyuncs.com: 401 Unauthorized: check the username | password\n";
  CHECK(multipush::report::summary_table(partial_run()) == expected);
}

TEST_CASE("summary table without outcomes") {
  RunSummary summary;
  summary.run_id = "20261204T201500Z-000000";
  summary.status = "build failed";
  summary.exit_code = 3;
  summary.seconds = 2;
  summary.failed_targets = {"server", "web"};
  CHECK(multipush::report::summary_table(summary) ==
        "Run 20261204T201500Z-000000: build failed (exit code 3, 2.0 s)\n"
        "Failed targets: server, web\n");
}

TEST_CASE("summary markdown snapshot") {
  const std::string expected =
      "### docker-multipush: partial\n"
      "\n"
      "Run `20261204T201500Z-3fa9c1`, exit code 4, 12.3 s ([workflow "
      "run](https://github.com/acme/app/actions/runs/42))\n"
      "\n"
      "acme/app `refs/tags/v1.2.3` `4f3c2b1a0987`\n"
      "\n"
      "Failed registries: registry.cn-hangzhou.aliyuncs.com\n"
      "\n"
      "| Target | Registry | Tags | Digest | Status |\n"
      "| --- | --- | --- | --- | --- |\n"
      "| server | `docker.io/openim/openkf-server` | `1.2.3` `latest` | `" +
      kDigest +
      "` | pushed |\n"
      "| server | `registry.cn-hangzhou.aliyuncs.com/openimsdk/openkf-server` | `1.2.3` `latest` |  | "
      "failed: 401 "
      "Unauthorized: check the username \\| password |\n"
      "| web | `ghcr.io/openimsdk/openkf-web` | `1.2.3` | `" +
      kDigest + "` | verified |\n";
  CHECK(multipush::report::summary_markdown(partial_run()) == expected);
}

TEST_CASE("summary markdown escapes cells") {
  RunSummary summary;
  summary.run_id = "r";
  summary.status = "failed";
  summary.exit_code = 5;
  summary.outcomes = {{"a|b", "localhost:5000", "x", {}, "", "failed", "line one\nline <two> & `three`"}};
  const std::string markdown = multipush::report::summary_markdown(summary);
  CHECK(markdown.find("| a\\|b | `localhost:5000/x` |") != std::string::npos);
  CHECK(markdown.find("failed: line one line &lt;two&gt; &amp; `three` |") != std::string::npos);
}

TEST_CASE("summary failed statuses") {
  CHECK(multipush::report::is_failed_status("failed"));
  CHECK(multipush::report::is_failed_status("digest mismatch"));
  CHECK_FALSE(multipush::report::is_failed_status("pushed"));
  CHECK_FALSE(multipush::report::is_failed_status("not pushed"));
  CHECK_FALSE(multipush::report::is_failed_status("dry run"));
}
