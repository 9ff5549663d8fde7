#pragma once

// The push of one image to one destination repository: the access check,
// the bookkeeping that blob groups report into, then manifests and tags.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "push/target.hpp"

namespace multipush::push::detail {

// Sleeps base_delay * 2^(attempt-1) plus up to 50% jitter, waking early on cancellation.
void backoff(const RetryPolicy& retry, int attempt, const std::atomic<bool>& cancelled);

// Calls `operation` until it succeeds, fails for good, or the attempts run out.
template <typename Operation>
auto with_retry(const RetryPolicy& retry, const std::atomic<bool>& cancelled, Operation&& operation, int& attempts)
    -> decltype(operation()) {
  for (attempts = 1;; ++attempts) {
    auto outcome = operation();
    if (outcome || !outcome.error().retryable || attempts >= retry.max_attempts || cancelled.load()) {
      return outcome;
    }
    backoff(retry, attempts, cancelled);
  }
}

// Mount knowledge and the upload limit of one registry during a run.
struct HostState {
  explicit HostState(int limit) : max_uploads(limit) {}

  // Returns a repository other than `repository` known to contain `digest`.
  std::optional<std::string> mount_source(const std::string& digest, const std::string& repository);
  void record(const std::string& digest, const std::string& repository);

  const int max_uploads;
  int uploads = 0;  // guarded by UploadBudget
  std::mutex mutex;
  std::multimap<std::string, std::string> holders;  // blob digest -> repository that has it
};

class DestinationRun {
 public:
  DestinationRun(const oci::Image& image, const Destination& destination, Target& target, HostState& host,
                 Observer& observer, const std::atomic<bool>& cancelled, const RetryPolicy& retry);

  // Checks access, waits until every blob of the image is settled by the
  // blob groups, then pushes manifests and tags. Runs on its own thread.
  DestinationResult run();

  // Waits for the access check. Returns false when this destination failed
  // and takes no more blobs.
  bool wait_ready();
  // Counts one of this destination's blobs as settled (done, or given up).
  void blob_settled();
  bool needs(const std::string& digest) const { return blobs_.contains(digest); }
  bool failed() const { return failed_.load(); }
  // Marks the destination failed and ready, so that no blob group waits for it.
  void abandon(const std::string& message);
  // Records the first failure; later steps of this destination are skipped.
  void fail(const std::string& message);
  template <typename T>
  bool check(const registry::Result<T>& outcome, const std::string& action) {
    if (outcome) {
      return true;
    }
    if (outcome.error().unauthorized) {
      std::lock_guard lock(mutex_);
      result_.unauthorized = true;
    }
    fail(action + " failed: " + describe(outcome.error()));
    return false;
  }
  // Counts a blob outcome and passes it to the observer.
  void report_blob(const oci::Descriptor& blob, std::string_view outcome, std::uint64_t bytes_sent, double seconds,
                   int attempts);

  const oci::Image& image() const { return image_; }
  const Destination& destination() const { return destination_; }
  Target& target() { return target_; }
  HostState& host() { return host_; }
  Observer& observer() { return observer_; }
  std::string name() const { return destination_.registry + "/" + destination_.repository; }

 private:
  bool interrupted();
  bool push_manifest(const oci::StoredManifest& stored);
  bool add_referrer(const oci::ChildManifest& referrer);
  void push_tag(const std::string& tag);
  DestinationResult finish();

  const oci::Image& image_;
  const Destination& destination_;
  Target& target_;
  HostState& host_;
  Observer& observer_;
  const std::atomic<bool>& cancelled_;
  const RetryPolicy& retry_;
  std::set<std::string> blobs_;

  std::mutex mutex_;
  std::condition_variable changed_;
  bool ready_ = false;
  std::size_t blobs_left_ = 0;
  std::atomic<bool> failed_{false};
  DestinationResult result_;
};

}  // namespace multipush::push::detail
