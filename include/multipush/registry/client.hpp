#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "multipush/auth/credentials.hpp"
#include "multipush/oci/descriptor.hpp"
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

// One retry the client is about to make, for logs and the run log.
struct RetryEvent {
  std::string host;                         // registry host as in Options::host
  std::string method;
  std::string url;                          // without query
  int attempt = 0;                          // the attempt that failed, from 1
  std::string reason;                       // "HTTP 503", "HTTP 429", or the transport error
  std::chrono::milliseconds delay{0};       // wait before the next attempt
};

// Retries of connection errors, 408, 429 and 5xx: exponential backoff with
// jitter from `first_backoff`, capped at `max_backoff`, or the Retry-After
// delay when the response carries one.
struct RetryPolicy {
  int max_attempts = 5;                                // per request, the first one included
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};      // also caps Retry-After
  std::chrono::milliseconds max_total_wait{300'000};  // summed over every retry of this client
};

struct Options {
  std::string host;                         // host[:port] as in references; "docker.io" for Hub
  bool insecure = false;                    // allow plain HTTP and unverified TLS
  std::optional<auth::Credentials> credentials;  // none: anonymous
  std::filesystem::path certs_dir = "/etc/docker/certs.d";
  int max_connections = 4;
  // Blobs larger than this are uploaded in PATCH chunks of this size; unset:
  // monolithic PUT unless the registry sends OCI-Chunk-Min-Length.
  std::optional<std::uint64_t> chunk_size;
  RetryPolicy retry;
  // Called before every retry, from the thread that retries.
  std::function<void(const RetryEvent&)> on_retry;
  // When the flag becomes true, requests in flight stop within about a
  // second and no request is retried.
  const std::atomic<bool>* cancel = nullptr;
};

struct ManifestData {
  std::string media_type;                   // Content-Type without parameters
  std::string digest;                       // sha256 of `bytes`, computed locally
  std::string bytes;                        // exactly as served
};

struct UploadSession {
  std::string location;                     // absolute URL from the latest Location
  std::string repository;                   // destination repository, for the token scope
  std::uint64_t min_chunk_length = 0;       // OCI-Chunk-Min-Length of the session; 0: none sent
};

// Referrers of a manifest, from the referrers API or the fallback tag.
struct Referrers {
  bool from_api = false;                    // false: read from the fallback tag schema
  std::vector<oci::Descriptor> manifests;
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
  // Uploads `size` bytes read from `source` to the session: one monolithic
  // PUT, or PATCH chunks when the blob exceeds Options::chunk_size or the
  // session's OCI-Chunk-Min-Length. A failed PUT is retried on a fresh
  // session; a failed chunk resumes from the range the registry reports.
  // The session is cancelled (DELETE, best effort) when the upload fails.
  Result<void> upload_blob(const UploadSession& session, const std::string& digest, std::uint64_t size,
                           const BlobSource& source);
  // DELETE on the session URL; failures are ignored.
  void cancel_upload(const UploadSession& session);
  // GET /v2/<repository>/blobs/<digest>, following redirects (Authorization
  // is never sent to another scheme, host or port). Streams the body to
  // `sink` and fails when its size or digest differ from the expected ones.
  // After a dropped connection the download resumes with a Range request.
  Result<void> get_blob(const std::string& repository, const std::string& digest, std::uint64_t size,
                        const http::BodySink& sink);
  // PUT /v2/<repository>/manifests/<reference>; returns the digest the
  // registry reports (or the local one when it sends none). Fails when the
  // reported digest differs from sha256(bytes).
  Result<std::string> put_manifest(const std::string& repository, const std::string& reference,
                                   const std::string& media_type, const std::string& bytes);
  Result<ManifestData> get_manifest(const std::string& repository, const std::string& reference);
  // HEAD with the full Accept list; std::nullopt on 404.
  Result<std::optional<std::string>> head_manifest(const std::string& repository, const std::string& reference);
  // GET /v2/<repository>/tags/list, following Link pages; sorted.
  Result<std::vector<std::string>> list_tags(const std::string& repository);
  // GET /v2/<repository>/referrers/<digest>, following Link pages;
  // std::nullopt when the registry has no referrers API (404).
  Result<std::optional<std::vector<oci::Descriptor>>> referrers_api(const std::string& repository,
                                                                    const std::string& digest);
  // Referrers from the API, or from the fallback tag when the API is missing.
  Result<Referrers> referrers(const std::string& repository, const std::string& digest);
  // Adds `referrer` to the fallback tag index of `subject_digest`, unless it
  // is listed already: GET the tag (404: an empty index), add, PUT.
  Result<void> add_to_referrers_tag(const std::string& repository, const std::string& subject_digest,
                                    const oci::Descriptor& referrer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fallback tag of the referrers of `digest`: the algorithm cut to 32
// characters, "-", the encoded part cut to 64, and characters that a tag
// cannot contain replaced by "-" ("sha256-<hex>").
std::string referrers_tag(const std::string& digest);

// Descriptor of a referrer manifest for a referrers index: media type,
// digest and size of `bytes`, artifactType (the manifest's, else its
// config's media type) and the manifest's annotations.
std::expected<oci::Descriptor, std::string> referrer_descriptor(const std::string& media_type,
                                                                const std::string& bytes);

}  // namespace multipush::registry
