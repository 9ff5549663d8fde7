#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "multipush/oci/digest.hpp"
#include "multipush/util/error.hpp"
#include "registry/transport.hpp"
#include "registry_fixture.hpp"

using namespace multipush::registry::detail;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "multipush-certs-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void touch(const std::string& name) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name) << "x";
  }
};

}  // namespace

TEST_CASE("certs.d missing directory") {
  TempDir dir;
  auto tls = load_certs_dir(dir.path, "reg.example:5000", false);
  CHECK(tls.verify_peer);
  CHECK(tls.ca_files.empty());
  CHECK_FALSE(tls.client_cert);
  CHECK_FALSE(load_certs_dir(dir.path, "reg.example:5000", true).verify_peer);
}

TEST_CASE("certs.d CAs and client pairs") {
  TempDir dir;
  dir.touch("reg.example:5000/ca.crt");
  dir.touch("reg.example:5000/extra.crt");
  dir.touch("reg.example:5000/b.cert");
  dir.touch("reg.example:5000/b.key");
  dir.touch("reg.example:5000/a.cert");
  dir.touch("reg.example:5000/a.key");
  dir.touch("reg.example:5000/README");
  dir.touch("other.example/ignored.crt");
  auto tls = load_certs_dir(dir.path, "reg.example:5000", false);
  REQUIRE(tls.ca_files.size() == 2);
  CHECK(tls.ca_files[0].filename() == "ca.crt");
  CHECK(tls.ca_files[1].filename() == "extra.crt");
  REQUIRE(tls.client_cert);
  REQUIRE(tls.client_key);
  CHECK(tls.client_cert->filename() == "a.cert");
  CHECK(tls.client_key->filename() == "a.key");
}

TEST_CASE("certs.d half pairs") {
  TempDir dir;
  dir.touch("cert-only/client.cert");
  dir.touch("key-only/client.key");
  CHECK_THROWS_AS(load_certs_dir(dir.path, "cert-only", false), multipush::UsageError);
  CHECK_THROWS_AS(load_certs_dir(dir.path, "key-only", false), multipush::UsageError);
  try {
    load_certs_dir(dir.path, "cert-only", false);
  } catch (const multipush::UsageError& error) {
    CHECK(std::string(error.what()).find("client.key") != std::string::npos);
  }
}

TEST_CASE("error body codes") {
  auto errors = parse_error_body(
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"DENIED"}]})");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].code == "MANIFEST_UNKNOWN");
  CHECK(errors[0].message == "manifest unknown");
  CHECK(errors[1].code == "DENIED");
  CHECK(errors[1].message.empty());
  CHECK(parse_error_body("<html>502 Bad Gateway</html>").empty());
  CHECK(parse_error_body("").empty());
  CHECK(parse_error_body(R"({"errors":"nope"})").empty());
}

TEST_CASE("loopback hosts") {
  CHECK(is_loopback("localhost"));
  CHECK(is_loopback("localhost:5000"));
  CHECK(is_loopback("127.0.0.1:5000"));
  CHECK(is_loopback("127.1.2.3"));
  CHECK(is_loopback("[::1]:5000"));
  CHECK(is_loopback("::1"));
  CHECK_FALSE(is_loopback("ghcr.io"));
  CHECK_FALSE(is_loopback("localhost.example.com"));
  CHECK_FALSE(is_loopback("10.0.0.1:5000"));
}

TEST_CASE("api host for Docker Hub") {
  CHECK(api_host("docker.io") == "registry-1.docker.io");
  CHECK(api_host("index.docker.io") == "registry-1.docker.io");
  CHECK(api_host("ghcr.io") == "ghcr.io");
}

TEST_CASE("query append and strip") {
  CHECK(append_query("http://h/v2/a/blobs/uploads/u?_state=s%3D", "digest", "sha256:ab") ==
        "http://h/v2/a/blobs/uploads/u?_state=s%3D&digest=sha256%3Aab");
  CHECK(append_query("http://h/upload", "digest", "sha256+b64u:x") == "http://h/upload?digest=sha256%2Bb64u%3Ax");
  CHECK(url_without_query("http://h/v2/x?_state=abc#f") == "http://h/v2/x");
}

TEST_CASE("retry after seconds") {
  multipush::http::Response response;
  CHECK(retry_after_seconds(response) == -1);
  response.headers = {{"retry-after", "7"}};
  CHECK(retry_after_seconds(response) == 7);
  response.headers = {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}};
  CHECK(retry_after_seconds(response) == -1);
}

TEST_CASE("registry client shared by threads") {
  multipush::test::RegistryServer server(multipush::test::RegistryServer::Mode::plain);
  multipush::registry::Options options;
  options.host = server.host();
  options.max_connections = 2;
  multipush::registry::RegistryClient client(options);
  std::vector<std::thread> threads;
  std::vector<int> results(8, -1);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      std::string repository = "acme/app" + std::to_string(i % 3);
      auto exists = client.blob_exists(repository, multipush::oci::sha256_digest(std::to_string(i)));
      results[i] = exists ? static_cast<int>(*exists) : 2;
    });
  }
  for (auto& thread : threads) thread.join();
  for (int result : results) CHECK(result == 0);
}

TEST_CASE("retry after both forms") {
  using namespace std::chrono;
  multipush::http::Response response;
  // Wed, 21 Oct 2015 07:28:00 GMT
  const system_clock::time_point date = system_clock::from_time_t(1445412480);
  CHECK_FALSE(retry_after(response, date).has_value());

  response.headers = {{"retry-after", "7"}};
  CHECK(retry_after(response, date) == milliseconds(7000));

  response.headers = {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}};
  CHECK(retry_after(response, date - seconds(3)) == milliseconds(3000));
  CHECK(retry_after(response, date + seconds(3)) == milliseconds(0));

  response.headers = {{"retry-after", "Wednesday, 21-Oct-15 07:28:00 GMT"}};
  CHECK(retry_after(response, date - seconds(2)) == milliseconds(2000));
  response.headers = {{"retry-after", "Wed Oct 21 07:28:00 2015"}};
  CHECK(retry_after(response, date - seconds(1)) == milliseconds(1000));

  response.headers = {{"retry-after", "soon"}};
  CHECK_FALSE(retry_after(response, date).has_value());
  response.headers = {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT trailing"}};
  CHECK_FALSE(retry_after(response, date).has_value());
}

TEST_CASE("upload range end") {
  CHECK(range_end("0-1023") == 1023u);
  CHECK(range_end("bytes=0-9") == 9u);
  CHECK(range_end("0-0") == 0u);
  CHECK_FALSE(range_end("").has_value());
  CHECK_FALSE(range_end("0-").has_value());
  CHECK_FALSE(range_end("-5").has_value());
  CHECK_FALSE(range_end("0-x").has_value());
}

TEST_CASE("link header next page") {
  multipush::http::Response response;
  CHECK_FALSE(next_link(response, "http://h/v2/a/tags/list").has_value());
  response.headers = {{"link", R"(</v2/a/tags/list?last=b&n=2>; rel="next")"}};
  CHECK(next_link(response, "http://h/v2/a/tags/list?n=2") == "http://h/v2/a/tags/list?last=b&n=2");
  response.headers = {{"link", R"(<http://h/first>; rel="prev", <http://h/second>; rel=next)"}};
  CHECK(next_link(response, "http://h/x") == "http://h/second");
  response.headers = {{"link", R"(<http://h/first>; rel="prev")"}};
  CHECK_FALSE(next_link(response, "http://h/x").has_value());
}

TEST_CASE("http date parsing") {
  auto parsed = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(parsed.has_value());
  CHECK(std::chrono::system_clock::to_time_t(*parsed) == 784111777);
  CHECK_FALSE(parse_http_date("06 Nov 1994").has_value());
}
