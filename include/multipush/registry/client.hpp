#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "multipush/auth/credentials.hpp"
#include "multipush/util/http.hpp"

// OCI Distribution API client for one registry host. Operations are named
// after the spec. One RegistryClient is shared by every destination
// repository on its host and is safe to call from several threads.
namespace multipush::registry {

// A failed registry operation. `codes` are the spec error codes from the
// response body (MANIFEST_UNKNOWN, DENIED, ...). `url` never carries secrets.
struct RegistryError {
  int status = 0;                   // HTTP status; 0 for a transport error
  std::string method;
  std::string url;
  std::vector<std::string> codes;
  std::string message;              // one line a user can act on
  bool retryable = false;           // connection error, 408, 429, 5xx
  bool unauthorized = false;        // 401 or 403 after authenticating, or bad credentials
  bool tls = false;                 // certificate or handshake failure

  std::string str() const;
};

template <typename T>
using Result = std::expected<T, RegistryError>;

struct Options {
  std::string host;                         // host[:port] as in references; "docker.io" for Hub
  bool insecure = false;                    // allow plain HTTP and unverified TLS
  std::optional<auth::Credentials> credentials;  // none: anonymous
  std::filesystem::path certs_dir = "/etc/docker/certs.d";
  int max_connections = 4;
};

struct ManifestData {
  std::string media_type;                   // Content-Type without parameters
  std::string digest;                       // sha256 of `bytes`, computed locally
  std::string bytes;                        // exactly as served
};

struct UploadSession {
  std::string location;                     // absolute URL from the latest Location
  std::string repository;                   // destination repository, for the token scope
};

// Streams a blob body: called with a BodySink-like reader each attempt.
// Returns a fresh reader positioned at the start of the blob.
using BlobSource = std::function<http::BodyReader()>;

class RegistryClient {
 public:
  // Throws UsageError when the certs.d directory of the host holds a client
  // certificate without its key or a key without its certificate.
  explicit RegistryClient(Options options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  const std::string& host() const;
  // "https" or "http", settled by the first request (loopback and insecure
  // registries fall back to plain HTTP when HTTPS is not spoken).
  std::string scheme();

  // GET /v2/ and authenticate for pull,push on `repository`; fails with
  // `unauthorized` when the credentials are rejected or lack push.
  Result<void> check_push_access(const std::string& repository);

  Result<bool> blob_exists(const std::string& repository, const std::string& digest);
  // POST .../blobs/uploads/?mount=&from=. Returns std::nullopt when mounted
  // (201) or the upload session the registry opened instead (202).
  Result<std::optional<UploadSession>> mount_blob(const std::string& repository, const std::string& digest,
                                                  const std::string& from_repository);
  Result<UploadSession> start_upload(const std::string& repository);
  // Monolithic PUT of `size` bytes read from `source` to the session.
  Result<void> upload_blob(const UploadSession& session, const std::string& digest, std::uint64_t size,
                           const BlobSource& source);
  // PUT /v2/<repository>/manifests/<reference>; returns the digest the
  // registry reports (or the local one when it sends none). Fails when the
  // reported digest differs from sha256(bytes).
  Result<std::string> put_manifest(const std::string& repository, const std::string& reference,
                                   const std::string& media_type, const std::string& bytes);
  Result<ManifestData> get_manifest(const std::string& repository, const std::string& reference);
  // HEAD with the full Accept list; std::nullopt on 404.
  Result<std::optional<std::string>> head_manifest(const std::string& repository, const std::string& reference);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace multipush::registry
