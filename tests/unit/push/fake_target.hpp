#pragma once

// An in-memory registry behind the push engine's Target interface, checking
// what a real registry checks: blob digests, and that a manifest's blobs and
// an index's children are present before it is accepted.

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "multipush/oci/digest.hpp"
#include "multipush/oci/manifest.hpp"
#include "push/target.hpp"

namespace multipush::testing {

class FakeRegistry final : public push::detail::Target {
 public:
  // Every call fails with a retryable connection error.
  bool down = false;
  // check_push_access fails with 401.
  bool deny = false;
  // mount_blob returns a session (202) instead of mounting.
  bool mount_unsupported = false;
  // The first `failing_uploads` upload_blob calls fail with a retryable 503.
  int failing_uploads = 0;
  // The first `broken_uploads` upload_blob calls read half of the body, then
  // fail like a connection reset.
  int broken_uploads = 0;
  // Sleep before each read of an upload body, to make a slow destination.
  std::chrono::microseconds read_delay{0};

  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<std::string> calls_for(const std::string& repository) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> selected;
    for (const auto& call : calls_) {
      if (call.find(" " + repository + " ") != std::string::npos) {
        selected.push_back(call);
      }
    }
    return selected;
  }
  bool has_blob(const std::string& repository, const std::string& digest) {
    std::lock_guard lock(mutex_);
    return blobs_[repository].contains(digest);
  }
  std::optional<std::string> manifest(const std::string& repository, const std::string& reference) {
    std::lock_guard lock(mutex_);
    const auto& stored = manifests_[repository];
    const auto found = stored.find(reference);
    return found == stored.end() ? std::nullopt : std::optional<std::string>(found->second);
  }

  registry::Result<void> check_push_access(const std::string& repository) override {
    if (auto error = record("ACCESS " + repository + " ")) {
      return std::unexpected(*error);
    }
    if (deny) {
      return std::unexpected(error_for(401, "GET", "authentication required", false, true));
    }
    return {};
  }

  registry::Result<bool> blob_exists(const std::string& repository, const std::string& digest) override {
    if (auto error = record("HEAD " + repository + " " + digest)) {
      return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    return blobs_[repository].contains(digest);
  }

  registry::Result<std::optional<registry::UploadSession>> mount_blob(const std::string& repository,
                                                                     const std::string& digest,
                                                                     const std::string& from_repository) override {
    if (auto error = record("MOUNT " + repository + " " + digest + " from " + from_repository)) {
      return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    if (mount_unsupported || !blobs_[from_repository].contains(digest)) {
      return std::optional<registry::UploadSession>(registry::UploadSession{"session:" + repository, repository});
    }
    blobs_[repository].insert(digest);
    return std::optional<registry::UploadSession>();
  }

  registry::Result<registry::UploadSession> start_upload(const std::string& repository) override {
    if (auto error = record("POST " + repository + " ")) {
      return std::unexpected(*error);
    }
    return registry::UploadSession{"session:" + repository, repository};
  }

  registry::Result<void> upload_blob(const registry::UploadSession& session, const std::string& digest,
                                     std::uint64_t size, const registry::BlobSource& source) override {
    const std::string repository = session.repository;
    if (auto error = record("PUT-BLOB " + repository + " " + digest)) {
      return std::unexpected(*error);
    }
    {
      std::lock_guard lock(mutex_);
      if (failing_uploads > 0) {
        --failing_uploads;
        return std::unexpected(error_for(503, "PUT", "service unavailable", true, false));
      }
    }
    bool break_midway = false;
    {
      std::lock_guard lock(mutex_);
      if (broken_uploads > 0) {
        --broken_uploads;
        break_midway = true;
      }
    }
    // Read like libcurl with a known Content-Length: stop after `size` bytes.
    auto reader = source();
    oci::Sha256 hasher;
    std::uint64_t total = 0;
    std::vector<char> buffer(16 * 1024);
    while (total < size) {
      if (read_delay.count() > 0) {
        std::this_thread::sleep_for(read_delay);
      }
      const size_t count = reader(buffer.data(), buffer.size());
      if (count == SIZE_MAX) {
        return std::unexpected(error_for(0, "PUT", "upload aborted by the body reader", true, false));
      }
      if (count == 0) {
        break;
      }
      hasher.update(buffer.data(), count);
      total += count;
      if (break_midway && total >= size / 2) {
        return std::unexpected(error_for(0, "PUT", "connection reset by peer", true, false));
      }
    }
    if (total != size || hasher.finish() != digest) {
      return std::unexpected(error_for(400, "PUT", "digest invalid", false, false));
    }
    std::lock_guard lock(mutex_);
    blobs_[repository].insert(digest);
    return {};
  }

  registry::Result<std::string> put_manifest(const std::string& repository, const std::string& reference,
                                             const std::string& media_type, const std::string& bytes) override {
    if (auto error = record("PUT-MANIFEST " + repository + " " + reference)) {
      return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    if (oci::is_index_media_type(media_type)) {
      auto index = oci::parse_index(bytes);
      if (!index) {
        return std::unexpected(error_for(400, "PUT", "manifest invalid", false, false));
      }
      for (const auto& child : index->manifests) {
        if (!manifests_[repository].contains(child.digest)) {
          return std::unexpected(error_for(400, "PUT", "manifest blob unknown: " + child.digest, false, false));
        }
      }
    } else {
      auto manifest = oci::parse_manifest(bytes);
      if (!manifest) {
        return std::unexpected(error_for(400, "PUT", "manifest invalid", false, false));
      }
      std::vector<oci::Descriptor> references = manifest->layers;
      references.push_back(manifest->config);
      for (const auto& blob : references) {
        if (!blobs_[repository].contains(blob.digest)) {
          return std::unexpected(error_for(400, "PUT", "manifest blob unknown: " + blob.digest, false, false));
        }
      }
    }
    const std::string digest = oci::sha256_digest(bytes);
    manifests_[repository][reference] = bytes;
    manifests_[repository][digest] = bytes;
    return digest;
  }

  registry::Result<std::optional<std::string>> head_manifest(const std::string& repository,
                                                             const std::string& reference) override {
    if (auto error = record("HEAD-MANIFEST " + repository + " " + reference)) {
      return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    const auto& stored = manifests_[repository];
    const auto found = stored.find(reference);
    if (found == stored.end()) {
      return std::optional<std::string>();
    }
    return std::optional<std::string>(oci::sha256_digest(found->second));
  }

  registry::Result<void> add_referrer(const std::string& repository, const std::string& subject_digest,
                                      const oci::Descriptor& referrer) override {
    if (auto error = record("REFERRER " + repository + " " + subject_digest + " " + referrer.digest)) {
      return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    if (!manifests_[repository].contains(referrer.digest)) {
      return std::unexpected(error_for(404, "GET", "referrer manifest unknown: " + referrer.digest, false, false));
    }
    return {};
  }

  // Number of calls that start with `prefix`.
  int count_calls(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(calls_.begin(), calls_.end(),
                                          [&](const std::string& call) { return call.starts_with(prefix); }));
  }

 private:
  static registry::RegistryError error_for(int status, const std::string& method, const std::string& message,
                                           bool retryable, bool unauthorized) {
    registry::RegistryError error;
    error.status = status;
    error.method = method;
    error.url = "http://fake.invalid/v2/";
    error.message = message;
    error.retryable = retryable;
    error.unauthorized = unauthorized;
    return error;
  }

  std::optional<registry::RegistryError> record(const std::string& call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(call);
    if (down) {
      return error_for(0, "GET", "connection refused", true, false);
    }
    return std::nullopt;
  }

  std::mutex mutex_;
  std::vector<std::string> calls_;
  std::map<std::string, std::set<std::string>> blobs_;
  std::map<std::string, std::map<std::string, std::string>> manifests_;
};

// Records every observer event.
struct RecordingObserver final : push::Observer {
  struct BlobEvent {
    std::string repository, digest, outcome;
    std::uint64_t bytes_sent;
    int attempts;
  };
  void blob(const push::Destination& destination, const std::string& digest, std::uint64_t, std::string_view outcome,
            std::uint64_t bytes_sent, double, int attempts) override {
    std::lock_guard lock(mutex);
    blobs.push_back({destination.repository, digest, std::string(outcome), bytes_sent, attempts});
  }
  void manifest(const push::Destination& destination, const std::string& digest, std::string_view,
                bool ok) override {
    std::lock_guard lock(mutex);
    manifests.push_back(destination.repository + " " + digest + (ok ? " ok" : " failed"));
  }
  void tag(const push::Destination& destination, const std::string& tag, const std::string&, bool ok) override {
    std::lock_guard lock(mutex);
    tags.push_back(destination.repository + ":" + tag + (ok ? " ok" : " failed"));
  }
  int count(const std::string& repository, const std::string& outcome) {
    std::lock_guard lock(mutex);
    int total = 0;
    for (const auto& event : blobs) {
      total += event.repository == repository && event.outcome == outcome ? 1 : 0;
    }
    return total;
  }

  std::mutex mutex;
  std::vector<BlobEvent> blobs;
  std::vector<std::string> manifests;
  std::vector<std::string> tags;
};

}  // namespace multipush::testing
