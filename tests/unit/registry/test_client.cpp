#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "multipush/oci/digest.hpp"
#include "multipush/registry/client.hpp"
#include "registry_fixture.hpp"

using multipush::registry::BlobSource;
using multipush::registry::Options;
using multipush::registry::RegistryClient;
using multipush::test::RegistryServer;

namespace {

// Returns the error text of a failed result, or "" for a success. doctest
// evaluates a _MESSAGE argument when it logs, also for passing checks.
template <typename T>
std::string error_of(const multipush::registry::Result<T>& result) {
  return result ? std::string() : result.error().str();
}

// Returns a BlobSource that streams `bytes` from the start on every call.
BlobSource source_of(const std::string& bytes) {
  return [&bytes]() {
    auto offset = std::make_shared<size_t>(0);
    return multipush::http::BodyReader([&bytes, offset](char* buffer, size_t size) {
      size_t count = std::min(size, bytes.size() - *offset);
      std::memcpy(buffer, bytes.data() + *offset, count);
      *offset += count;
      return count;
    });
  };
}

void push_blob(RegistryClient& client, const std::string& repository, const std::string& bytes) {
  auto session = client.start_upload(repository);
  REQUIRE_MESSAGE(session, error_of(session));
  auto source = source_of(bytes);
  auto uploaded = client.upload_blob(*session, multipush::oci::sha256_digest(bytes), bytes.size(), source);
  REQUIRE_MESSAGE(uploaded, error_of(uploaded));
}

struct TestImage {
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  std::string layer = "not really a tar, but registries do not look inside layers";
  std::string manifest;
  std::string media_type = "application/vnd.oci.image.manifest.v1+json";

  TestImage() {
    manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
               multipush::oci::sha256_digest(config) + R"(","size":)" + std::to_string(config.size()) +
               R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
               multipush::oci::sha256_digest(layer) + R"(","size":)" + std::to_string(layer.size()) + "}]}";
  }

  void push_blobs(RegistryClient& client, const std::string& repository) const {
    push_blob(client, repository, config);
    push_blob(client, repository, layer);
  }
};

Options options_for(const RegistryServer& server) {
  Options options;
  options.host = server.host();
  return options;
}

multipush::auth::Credentials tester(const std::string& password) {
  multipush::auth::Credentials credentials;
  credentials.username = RegistryServer::kUser;
  credentials.password = password;
  credentials.source = "test credentials";
  return credentials;
}

}  // namespace

TEST_CASE("registry plain blob upload") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  const std::string blob = "hello blob";
  const std::string digest = multipush::oci::sha256_digest(blob);

  auto missing = client.blob_exists("acme/app", digest);
  REQUIRE_MESSAGE(missing, error_of(missing));
  CHECK_FALSE(*missing);
  CHECK(client.scheme() == "http");

  auto session = client.start_upload("acme/app");
  REQUIRE_MESSAGE(session, error_of(session));
  CHECK(session->location.starts_with("http://" + server.host() + "/v2/acme/app/blobs/uploads/"));
  CHECK(session->location.find("_state=") != std::string::npos);
  auto source = source_of(blob);
  auto uploaded = client.upload_blob(*session, digest, blob.size(), source);
  REQUIRE_MESSAGE(uploaded, error_of(uploaded));

  auto present = client.blob_exists("acme/app", digest);
  REQUIRE_MESSAGE(present, error_of(present));
  CHECK(*present);
}

TEST_CASE("registry plain wrong digest") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  const std::string blob = "actual bytes";
  auto session = client.start_upload("acme/app");
  REQUIRE(session);
  auto source = source_of(blob);
  auto uploaded = client.upload_blob(*session, multipush::oci::sha256_digest("other bytes"), blob.size(), source);
  REQUIRE_FALSE(uploaded);
  CHECK(uploaded.error().status == 400);
  CHECK(std::find(uploaded.error().codes.begin(), uploaded.error().codes.end(), "DIGEST_INVALID") !=
        uploaded.error().codes.end());
  CHECK_FALSE(uploaded.error().retryable);
  CHECK(uploaded.error().url.find("_state") == std::string::npos);
}

TEST_CASE("registry plain mount") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  const std::string blob = "shared layer";
  const std::string digest = multipush::oci::sha256_digest(blob);
  push_blob(client, "acme/source", blob);

  auto mounted = client.mount_blob("acme/target", digest, "acme/source");
  REQUIRE_MESSAGE(mounted, error_of(mounted));
  CHECK_FALSE(mounted->has_value());
  auto present = client.blob_exists("acme/target", digest);
  REQUIRE(present);
  CHECK(*present);

  // A blob the source does not have: the 202 session is used for the upload.
  const std::string other = "not in the source";
  const std::string other_digest = multipush::oci::sha256_digest(other);
  auto fallback = client.mount_blob("acme/target", other_digest, "acme/source");
  REQUIRE_MESSAGE(fallback, error_of(fallback));
  REQUIRE(fallback->has_value());
  CHECK((*fallback)->repository == "acme/target");
  auto source = source_of(other);
  auto uploaded = client.upload_blob(**fallback, other_digest, other.size(), source);
  REQUIRE_MESSAGE(uploaded, error_of(uploaded));
  auto other_present = client.blob_exists("acme/target", other_digest);
  REQUIRE(other_present);
  CHECK(*other_present);
}

TEST_CASE("registry plain manifests") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  TestImage image;
  image.push_blobs(client, "acme/app");
  const std::string digest = multipush::oci::sha256_digest(image.manifest);

  auto by_digest = client.put_manifest("acme/app", digest, image.media_type, image.manifest);
  REQUIRE_MESSAGE(by_digest, error_of(by_digest));
  CHECK(*by_digest == digest);
  auto by_tag = client.put_manifest("acme/app", "1.2.3", image.media_type, image.manifest);
  REQUIRE_MESSAGE(by_tag, error_of(by_tag));
  CHECK(*by_tag == digest);

  for (const std::string& reference : {digest, std::string("1.2.3")}) {
    CAPTURE(reference);
    auto manifest = client.get_manifest("acme/app", reference);
    REQUIRE_MESSAGE(manifest, error_of(manifest));
    CHECK(manifest->bytes == image.manifest);
    CHECK(manifest->digest == digest);
    CHECK(manifest->media_type == image.media_type);
    auto head = client.head_manifest("acme/app", reference);
    REQUIRE_MESSAGE(head, error_of(head));
    REQUIRE(head->has_value());
    CHECK(**head == digest);
  }

  auto absent = client.head_manifest("acme/app", "no-such-tag");
  REQUIRE_MESSAGE(absent, error_of(absent));
  CHECK_FALSE(absent->has_value());
  auto unknown = client.get_manifest("acme/app", "no-such-tag");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().status == 404);
  CHECK(std::find(unknown.error().codes.begin(), unknown.error().codes.end(), "MANIFEST_UNKNOWN") !=
        unknown.error().codes.end());
  CHECK(unknown.error().message.find("no-such-tag") != std::string::npos);
}

TEST_CASE("registry plain manifest missing blobs") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  TestImage image;
  auto pushed = client.put_manifest("acme/app", "latest", image.media_type, image.manifest);
  REQUIRE_FALSE(pushed);
  CHECK(pushed.error().status == 400);
  CHECK(std::find(pushed.error().codes.begin(), pushed.error().codes.end(), "MANIFEST_BLOB_UNKNOWN") !=
        pushed.error().codes.end());
}

TEST_CASE("registry plain push access") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  auto access = client.check_push_access("acme/app");
  CHECK_MESSAGE(access, error_of(access));
}

TEST_CASE("registry unreachable port") {
  Options options;
  // Nothing listens on port 1 of the loopback address.
  options.host = "127.0.0.1:1";
  RegistryClient client(options);
  auto exists = client.blob_exists("acme/app", multipush::oci::sha256_digest("x"));
  REQUIRE_FALSE(exists);
  CHECK(exists.error().status == 0);
  CHECK(exists.error().message.find("127.0.0.1:1") != std::string::npos);
}

TEST_CASE("registry tls htpasswd push") {
  RegistryServer server(RegistryServer::Mode::tls_htpasswd);
  Options options = options_for(server);
  options.certs_dir = server.certs_dir();
  options.credentials = tester(RegistryServer::kPassword);
  RegistryClient client(options);

  CHECK(client.scheme() == "https");
  auto access = client.check_push_access("acme/app");
  REQUIRE_MESSAGE(access, error_of(access));
  TestImage image;
  image.push_blobs(client, "acme/app");
  auto pushed = client.put_manifest("acme/app", "v1", image.media_type, image.manifest);
  REQUIRE_MESSAGE(pushed, error_of(pushed));
  auto head = client.head_manifest("acme/app", "v1");
  REQUIRE_MESSAGE(head, error_of(head));
  REQUIRE(head->has_value());
  CHECK(**head == multipush::oci::sha256_digest(image.manifest));

  auto mounted = client.mount_blob("acme/other", multipush::oci::sha256_digest(image.layer), "acme/app");
  REQUIRE_MESSAGE(mounted, error_of(mounted));
  CHECK_FALSE(mounted->has_value());
}

TEST_CASE("registry tls wrong password") {
  RegistryServer server(RegistryServer::Mode::tls_htpasswd);
  Options options = options_for(server);
  options.certs_dir = server.certs_dir();
  options.credentials = tester("wrong-password");
  RegistryClient client(options);

  auto access = client.check_push_access("acme/app");
  REQUIRE_FALSE(access);
  CHECK(access.error().unauthorized);
  CHECK(access.error().status == 401);
  CHECK(access.error().message.find("test credentials") != std::string::npos);
  CHECK(access.error().str().find("wrong-password") == std::string::npos);

  auto exists = client.blob_exists("acme/app", multipush::oci::sha256_digest("x"));
  REQUIRE_FALSE(exists);
  CHECK(exists.error().unauthorized);
}

TEST_CASE("registry tls anonymous") {
  RegistryServer server(RegistryServer::Mode::tls_htpasswd);
  Options options = options_for(server);
  options.certs_dir = server.certs_dir();
  RegistryClient client(options);
  auto session = client.start_upload("acme/app");
  REQUIRE_FALSE(session);
  CHECK(session.error().unauthorized);
  CHECK(session.error().message.find("docker login " + server.host()) != std::string::npos);
}

TEST_CASE("registry tls without CA") {
  RegistryServer server(RegistryServer::Mode::tls_htpasswd);
  Options options = options_for(server);
  options.certs_dir = server.empty_certs_dir();
  options.credentials = tester(RegistryServer::kPassword);
  RegistryClient client(options);
  auto exists = client.blob_exists("acme/app", multipush::oci::sha256_digest("x"));
  REQUIRE_FALSE(exists);
  CHECK(exists.error().tls);
  CHECK_FALSE(exists.error().retryable);
  CHECK(exists.error().message.find(server.host()) != std::string::npos);
  CHECK(exists.error().message.find(server.empty_certs_dir().string()) != std::string::npos);
}

TEST_CASE("registry tls insecure") {
  RegistryServer server(RegistryServer::Mode::tls_htpasswd);
  Options options = options_for(server);
  options.certs_dir = server.empty_certs_dir();
  options.insecure = true;
  options.credentials = tester(RegistryServer::kPassword);
  RegistryClient client(options);
  auto exists = client.blob_exists("acme/app", multipush::oci::sha256_digest("x"));
  REQUIRE_MESSAGE(exists, error_of(exists));
  CHECK_FALSE(*exists);
  CHECK(client.scheme() == "https");
}

TEST_CASE("referrers fallback tag name") {
  CHECK(multipush::registry::referrers_tag(
            "sha256:3588d02542238316759cbf24502f4344ffcc8a60c803870022f335d1390c13b4") ==
        "sha256-3588d02542238316759cbf24502f4344ffcc8a60c803870022f335d1390c13b4");
  // The encoded part is cut to 64 characters, and '+' is not allowed in tags.
  CHECK(multipush::registry::referrers_tag("sha512:" + std::string(128, 'a')) == "sha512-" + std::string(64, 'a'));
  CHECK(multipush::registry::referrers_tag("sha256+b64u:abc") == "sha256-b64u-abc");
}

TEST_CASE("registry plain chunked upload") {
  RegistryServer server(RegistryServer::Mode::plain);
  Options options = options_for(server);
  options.chunk_size = 1000;
  RegistryClient client(options);
  std::string blob;
  for (int i = 0; i < 3500; ++i) blob.push_back(static_cast<char>('a' + i % 26));
  const std::string digest = multipush::oci::sha256_digest(blob);

  // The reader counts how often the source is opened: once, since every
  // chunk continues where the previous one ended.
  int opened = 0;
  BlobSource source = [&]() {
    ++opened;
    auto offset = std::make_shared<size_t>(0);
    return multipush::http::BodyReader([&blob, offset](char* buffer, size_t size) {
      size_t count = std::min(size, blob.size() - *offset);
      std::memcpy(buffer, blob.data() + *offset, count);
      *offset += count;
      return count;
    });
  };
  auto session = client.start_upload("acme/chunked");
  REQUIRE_MESSAGE(session, error_of(session));
  auto uploaded = client.upload_blob(*session, digest, blob.size(), source);
  REQUIRE_MESSAGE(uploaded, error_of(uploaded));
  CHECK(opened == 1);

  std::string downloaded;
  auto fetched = client.get_blob("acme/chunked", digest, blob.size(), [&](const char* data, size_t size) {
    downloaded.append(data, size);
    return true;
  });
  REQUIRE_MESSAGE(fetched, error_of(fetched));
  CHECK(downloaded == blob);
}

TEST_CASE("registry plain blob get checks") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  const std::string blob = "blob to read back";
  const std::string digest = multipush::oci::sha256_digest(blob);
  push_blob(client, "acme/app", blob);
  auto ignore = [](const char*, size_t) { return true; };

  auto wrong_size = client.get_blob("acme/app", digest, blob.size() - 1, ignore);
  REQUIRE_FALSE(wrong_size);
  CHECK(wrong_size.error().message.find("more than") != std::string::npos);

  auto missing = client.get_blob("acme/app", multipush::oci::sha256_digest("absent"), 6, ignore);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == 404);
  CHECK(missing.error().message.find("was not found") != std::string::npos);
}

TEST_CASE("registry plain tags and referrers") {
  RegistryServer server(RegistryServer::Mode::plain);
  RegistryClient client(options_for(server));
  TestImage image;
  image.push_blobs(client, "acme/app");
  const std::string subject = multipush::oci::sha256_digest(image.manifest);
  REQUIRE(client.put_manifest("acme/app", subject, image.media_type, image.manifest));
  for (const char* tag : {"b", "a", "c"}) REQUIRE(client.put_manifest("acme/app", tag, image.media_type, image.manifest));

  auto tags = client.list_tags("acme/app");
  REQUIRE_MESSAGE(tags, error_of(tags));
  std::string joined;
  for (const auto& tag : *tags) joined += tag + " ";
  CHECK(joined == "a b c ");

  // distribution 2.8 has no referrers API.
  auto api = client.referrers_api("acme/app", subject);
  REQUIRE_MESSAGE(api, error_of(api));
  CHECK_FALSE(api->has_value());
  auto none = client.referrers("acme/app", subject);
  REQUIRE_MESSAGE(none, error_of(none));
  CHECK_FALSE(none->from_api);
  CHECK(none->manifests.empty());

  const std::string empty_config = "{}";
  push_blob(client, "acme/app", empty_config);
  const std::string artifact =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" +
      multipush::oci::sha256_digest(empty_config) +
      R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" +
      multipush::oci::sha256_digest(empty_config) + R"(","size":2}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject + R"(","size":)" + std::to_string(image.manifest.size()) +
      R"(},"annotations":{"org.example.kind":"sbom"}})";
  auto descriptor = multipush::registry::referrer_descriptor(image.media_type, artifact);
  REQUIRE_MESSAGE(descriptor, (descriptor ? "" : descriptor.error()));
  CHECK(descriptor->artifact_type == "application/vnd.example.sbom");
  CHECK(descriptor->annotations.at("org.example.kind") == "sbom");
  auto pushed = client.put_manifest("acme/app", descriptor->digest, image.media_type, artifact);
  REQUIRE_MESSAGE(pushed, error_of(pushed));

  // Adding the same referrer twice lists it once.
  for (int i = 0; i < 2; ++i) {
    auto added = client.add_to_referrers_tag("acme/app", subject, *descriptor);
    REQUIRE_MESSAGE(added, error_of(added));
  }
  auto found = client.referrers("acme/app", subject);
  REQUIRE_MESSAGE(found, error_of(found));
  CHECK_FALSE(found->from_api);
  REQUIRE(found->manifests.size() == 1);
  CHECK(found->manifests[0].digest == descriptor->digest);
  CHECK(found->manifests[0].artifact_type == "application/vnd.example.sbom");
  CHECK(found->manifests[0].annotation("org.example.kind") == "sbom");
}
