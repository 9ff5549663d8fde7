#include <doctest/doctest.h>

#include "multipush/oci/digest.hpp"
#include "multipush/registry/client.hpp"
#include "util/echo_server.hpp"

// Token flows of RegistryClient against the stand-in registry of
// tests/support/http_echo.py. Real token servers are covered by the
// integration tests.

using multipush::registry::Options;
using multipush::registry::RegistryClient;

namespace {

Options options_for(const multipush::test::EchoServer& server) {
  Options options;
  options.host = "127.0.0.1:" + std::to_string(server.port());
  multipush::auth::Credentials credentials;
  credentials.username = "alice";
  credentials.password = "pw-bearer";
  options.credentials = credentials;
  return options;
}

}  // namespace

TEST_CASE("bearer token for repository") {
  multipush::test::EchoServer server;
  RegistryClient client(options_for(server));
  auto exists = client.blob_exists("acme/app", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(exists, (exists ? "" : exists.error().str()));
  CHECK_FALSE(*exists);
  CHECK(client.scheme() == "http");
  // A second repository needs a token with its own scope.
  auto other = client.blob_exists("acme/other", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(other, (other ? "" : other.error().str()));
  CHECK_FALSE(*other);
}

TEST_CASE("bearer invalid token renewed once") {
  multipush::test::EchoServer server;
  RegistryClient client(options_for(server));
  auto exists = client.blob_exists("acme/expire", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(exists, (exists ? "" : exists.error().str()));
  CHECK_FALSE(*exists);
}

TEST_CASE("retry after 503") {
  multipush::test::EchoServer server;
  RegistryClient client(options_for(server));
  auto exists = client.blob_exists("acme/flaky", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(exists, (exists ? "" : exists.error().str()));
  CHECK_FALSE(*exists);
}

TEST_CASE("retry hook reports each retry") {
  multipush::test::EchoServer server;
  Options options = options_for(server);
  std::vector<multipush::registry::RetryEvent> events;
  options.on_retry = [&events](const multipush::registry::RetryEvent& event) { events.push_back(event); };
  RegistryClient client(options);
  auto exists = client.blob_exists("acme/flaky", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(exists, (exists ? "" : exists.error().str()));
  REQUIRE(events.size() == 1);
  CHECK(events[0].method == "HEAD");
  CHECK(events[0].reason == "HTTP 503");
  CHECK(events[0].attempt == 1);
  // Retry-After: 0 replaces the exponential backoff.
  CHECK(events[0].delay.count() == 0);
  CHECK(events[0].url.find("/v2/acme/flaky/blobs/") != std::string::npos);
}

TEST_CASE("retry attempts capped") {
  multipush::test::EchoServer server;
  Options options = options_for(server);
  options.retry.max_attempts = 1;
  int retries = 0;
  options.on_retry = [&retries](const multipush::registry::RetryEvent&) { ++retries; };
  RegistryClient client(options);
  auto exists = client.blob_exists("other/flaky", multipush::oci::sha256_digest("x"));
  REQUIRE_FALSE(exists);
  CHECK(exists.error().status == 503);
  CHECK(exists.error().retryable);
  CHECK(retries == 0);
}
