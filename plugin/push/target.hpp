#pragma once

// The registry operations the push engine uses, behind an interface so that
// the engine's ordering and failure handling can be tested without a network.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "multipush/push/push.hpp"
#include "multipush/registry/client.hpp"

namespace multipush::push::detail {

class Target {
 public:
  virtual ~Target() = default;
  virtual registry::Result<void> check_push_access(const std::string& repository) = 0;
  virtual registry::Result<bool> blob_exists(const std::string& repository, const std::string& digest) = 0;
  virtual registry::Result<std::optional<registry::UploadSession>> mount_blob(const std::string& repository,
                                                                             const std::string& digest,
                                                                             const std::string& from_repository) = 0;
  virtual registry::Result<registry::UploadSession> start_upload(const std::string& repository) = 0;
  virtual registry::Result<void> upload_blob(const registry::UploadSession& session, const std::string& digest,
                                             std::uint64_t size, const registry::BlobSource& source) = 0;
  virtual registry::Result<std::string> put_manifest(const std::string& repository, const std::string& reference,
                                                     const std::string& media_type, const std::string& bytes) = 0;
  // Returns the digest `reference` resolves to, or std::nullopt when it is absent.
  virtual registry::Result<std::optional<std::string>> head_manifest(const std::string& repository,
                                                                     const std::string& reference) = 0;
  // Makes the pushed manifest `referrer` findable from `subject_digest`:
  // nothing to do when the registry serves the referrers API, otherwise an
  // entry in the subject's fallback tag index.
  virtual registry::Result<void> add_referrer(const std::string& repository, const std::string& subject_digest,
                                              const oci::Descriptor& referrer) = 0;
};

// How often a step that failed in a retryable way (connection error, 408,
// 429, 5xx) is tried again, with exponential backoff and jitter starting at
// `base_delay`. RegistryClient already retries each request (3 attempts,
// Retry-After honoured), so the engine's second attempt only adds what the
// client cannot do alone: a fresh upload session after a failed upload.
struct RetryPolicy {
  int max_attempts = 2;
  std::chrono::milliseconds base_delay{500};
};

// Pushes `image` to each destination through `targets[i]`. Destinations
// whose targets are the same object are on the same registry: they share
// mount knowledge and a limit of blob uploads in flight. Blobs are read
// from `store`, or from the image's layout when `store` is null.
std::vector<DestinationResult> push_to_targets(const oci::Image& image, const std::vector<Destination>& destinations,
                                               const std::vector<Target*>& targets, Observer& observer,
                                               const std::atomic<bool>& cancelled, const RetryPolicy& retry = {},
                                               const PushOptions& options = {}, BlobStore* store = nullptr);

// Describes a registry error in one line without calling into the registry module.
std::string describe(const registry::RegistryError& error);

}  // namespace multipush::push::detail
