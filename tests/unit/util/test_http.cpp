#include <doctest/doctest.h>

#include "multipush/util/http.hpp"

using multipush::http::resolve_url;
using multipush::http::url_encode;

TEST_CASE("resolve_url RFC 3986 normal examples") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  for (const auto& [reference, expected] : cases) {
    CAPTURE(reference);
    CHECK(resolve_url(base, reference) == expected);
  }
}

TEST_CASE("resolve_url RFC 3986 abnormal examples") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (const auto& [reference, expected] : cases) {
    CAPTURE(reference);
    CHECK(resolve_url(base, reference) == expected);
  }
}

TEST_CASE("resolve_url upload locations") {
  const std::string request = "https://127.0.0.1:5000/v2/acme/app/blobs/uploads/";
  CHECK(resolve_url(request, "/v2/acme/app/blobs/uploads/4f7?_state=abc%3D") ==
        "https://127.0.0.1:5000/v2/acme/app/blobs/uploads/4f7?_state=abc%3D");
  CHECK(resolve_url(request, "https://storage.example/upload?sig=x") == "https://storage.example/upload?sig=x");
  CHECK(resolve_url("http://[::1]:5000/v2/", "a/b") == "http://[::1]:5000/v2/a/b");
  CHECK(resolve_url("http://h", "x") == "http://h/x");
}

TEST_CASE("url_encode digests and scopes") {
  CHECK(url_encode("sha256:abc") == "sha256%3Aabc");
  CHECK(url_encode("sha256+b64u:a-b_c") == "sha256%2Bb64u%3Aa-b_c");
  CHECK(url_encode("repository:acme/app:pull,push") == "repository%3Aacme%2Fapp%3Apull%2Cpush");
  CHECK(url_encode("a b~.") == "a%20b~.");
  CHECK(url_encode("") == "");
}

// Requests against tests/support/http_echo.py on the loopback address.

#include <nlohmann/json.hpp>

#include <cstring>

#include "util/echo_server.hpp"

namespace {

nlohmann::json echo_of(const multipush::http::Response& response) { return nlohmann::json::parse(response.body); }

}  // namespace

TEST_CASE("http get headers lower case") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.url = server.url() + "/echo";
  request.headers = {{"X-Custom", "value 1"}};
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->header("x-echo") == "yes");
  CHECK(response->header("content-type") == "application/json");
  auto echo = echo_of(*response);
  CHECK(echo["method"] == "GET");
  CHECK(echo["headers"]["x-custom"] == "value 1");
}

TEST_CASE("http head without body") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.method = "HEAD";
  request.url = server.url() + "/echo";
  request.timeout = std::chrono::seconds(10);
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body.empty());
  CHECK(response->header("content-length") != "0");
}

TEST_CASE("http put string body") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.method = "PUT";
  request.url = server.url() + "/echo";
  request.headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}};
  request.body = R"({"schemaVersion":2})";
  auto response = client.send(request);
  REQUIRE(response);
  auto echo = echo_of(*response);
  CHECK(echo["method"] == "PUT");
  CHECK(echo["body"] == request.body);
  CHECK(echo["headers"]["content-length"] == std::to_string(request.body.size()));
  CHECK(echo["headers"]["content-type"] == "application/vnd.oci.image.manifest.v1+json");
  CHECK_FALSE(echo["headers"].contains("expect"));
  CHECK_FALSE(echo["headers"].contains("transfer-encoding"));
}

TEST_CASE("http post empty body") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.method = "POST";
  request.url = server.url() + "/echo";
  auto response = client.send(request);
  REQUIRE(response);
  auto echo = echo_of(*response);
  CHECK(echo["method"] == "POST");
  CHECK(echo["headers"]["content-length"] == "0");
  // No form Content-Type is added to a body-less POST.
  CHECK_FALSE(echo["headers"].contains("content-type"));
}

TEST_CASE("http patch streamed body") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  const std::string blob(100000, 'x');
  size_t offset = 0;
  multipush::http::Request request;
  request.method = "PATCH";
  request.url = server.url() + "/echo";
  request.headers = {{"Content-Type", "application/octet-stream"}};
  request.body_size = blob.size();
  request.body_reader = [&](char* buffer, size_t size) {
    size_t count = std::min(size, blob.size() - offset);
    std::memcpy(buffer, blob.data() + offset, count);
    offset += count;
    return count;
  };
  auto response = client.send(request);
  REQUIRE(response);
  auto echo = echo_of(*response);
  CHECK(echo["method"] == "PATCH");
  CHECK(echo["headers"]["content-length"] == std::to_string(blob.size()));
  CHECK(echo["headers"]["content-type"] == "application/octet-stream");
  CHECK_FALSE(echo["headers"].contains("transfer-encoding"));
  CHECK(echo["body"].get<std::string>() == blob);
}

TEST_CASE("http body sink") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  std::string received;
  multipush::http::Request request;
  request.url = server.url() + "/echo";
  request.body_sink = [&](const char* data, size_t size) {
    received.append(data, size);
    return true;
  };
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->body.empty());
  CHECK(received.find("\"method\": \"GET\"") != std::string::npos);
}

TEST_CASE("http redirect same origin keeps authorization") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.url = server.url() + "/redirect/307?to=/echo/target";
  request.headers = {{"Authorization", "Bearer same-origin-token"}};
  request.follow_redirects = true;
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->effective_url == server.url() + "/echo/target");
  auto echo = echo_of(*response);
  CHECK(echo["headers"]["authorization"] == "Bearer same-origin-token");
}

TEST_CASE("http redirect other host drops authorization") {
  multipush::test::EchoServer server;
  multipush::test::EchoServer other;
  multipush::http::Client client;
  multipush::http::Request request;
  // Another port is another origin.
  request.url = server.url() + "/redirect/302?to=" + multipush::http::url_encode(other.url() + "/echo/cdn");
  request.headers = {{"Authorization", "Bearer do-not-leak"}, {"X-Kept", "1"}};
  request.follow_redirects = true;
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->status == 200);
  auto echo = echo_of(*response);
  CHECK_FALSE(echo["headers"].contains("authorization"));
  CHECK(echo["headers"]["x-kept"] == "1");

  // "localhost" and "127.0.0.1" are different hosts too.
  request.url = server.url() + "/redirect/307?to=" +
                multipush::http::url_encode("http://localhost:" + std::to_string(server.port()) + "/echo");
  auto by_name = client.send(request);
  REQUIRE(by_name);
  CHECK_FALSE(echo_of(*by_name)["headers"].contains("authorization"));
}

TEST_CASE("http redirect 303 becomes get") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.method = "POST";
  request.body = "payload";
  request.url = server.url() + "/redirect/303?to=/echo";
  request.follow_redirects = true;
  auto response = client.send(request);
  REQUIRE(response);
  auto echo = echo_of(*response);
  CHECK(echo["method"] == "GET");
  CHECK(echo["body"] == "");
}

TEST_CASE("http redirect not followed") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  multipush::http::Request request;
  request.url = server.url() + "/redirect/307?to=/echo";
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->status == 307);
  CHECK(response->header("location") == "/echo");
}

TEST_CASE("http connection refused") {
  multipush::http::Client client;
  multipush::http::Request request;
  request.url = "http://user:hunter22@127.0.0.1:1/v2/?token=abc";
  auto response = client.send(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().retryable);
  CHECK_FALSE(response.error().tls);
  CHECK(response.error().message.find("127.0.0.1:1") != std::string::npos);
  CHECK(response.error().message.find("hunter22") == std::string::npos);
  CHECK(response.error().message.find("token=abc") == std::string::npos);
}

TEST_CASE("http body sink only for success") {
  multipush::test::EchoServer server;
  multipush::http::Client client;
  std::string received;
  std::vector<long> starts;
  multipush::http::Request request;
  request.url = server.url() + "/redirect/307?to=/echo/target";
  request.body_sink = [&](const char* data, size_t size) {
    received.append(data, size);
    return true;
  };
  request.on_body_start = [&starts](long status) { starts.push_back(status); };

  // Not followed: the redirect's body stays in the response.
  auto redirect = client.send(request);
  REQUIRE(redirect);
  CHECK(redirect->status == 307);
  CHECK(received.empty());
  CHECK(starts.empty());

  // Followed: only the final 200 body reaches the sink.
  request.follow_redirects = true;
  auto followed = client.send(request);
  REQUIRE(followed);
  CHECK(followed->status == 200);
  CHECK(followed->body.empty());
  CHECK(received.find("/echo/target") != std::string::npos);
  REQUIRE(starts.size() == 1);
  CHECK(starts[0] == 200);
}
