#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "multipush/oci/digest.hpp"
#include "multipush/output/redact.hpp"
#include "push/target.hpp"

namespace multipush::push::detail {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class Semaphore {
 public:
  explicit Semaphore(int count) : count_(count) {}
  void acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return count_ > 0; });
    --count_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++count_;
    }
    available_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable available_;
  int count_;
};

// State shared by the destinations of one registry host during a run.
struct HostState {
  explicit HostState(int max_connections) : slots(max_connections) {}

  // Returns a repository other than `repository` known to contain `digest`.
  std::optional<std::string> mount_source(const std::string& digest, const std::string& repository) {
    std::lock_guard lock(mutex);
    const auto range = holders.equal_range(digest);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second != repository) {
        return it->second;
      }
    }
    return std::nullopt;
  }

  void record(const std::string& digest, const std::string& repository) {
    std::lock_guard lock(mutex);
    const auto range = holders.equal_range(digest);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == repository) {
        return;
      }
    }
    holders.emplace(digest, repository);
  }

  std::mutex mutex;
  std::multimap<std::string, std::string> holders;  // blob digest -> repository that has it
  Semaphore slots;
};

// Failure of reading a blob from the layout, set by the body reader.
struct BlobReadState {
  std::mutex mutex;
  std::string error;
  std::uint64_t bytes_sent = 0;
};

// Returns a source that streams the blob from the layout and checks its size
// and digest as it goes. The check happens in the read that delivers the
// last byte, because libcurl stops reading once the announced size is sent.
registry::BlobSource make_blob_source(const fs::path& path, const oci::Descriptor& blob,
                                      std::shared_ptr<BlobReadState> state) {
  return [path, blob, state]() -> http::BodyReader {
    auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
    auto hasher = std::make_shared<oci::Sha256>();
    auto remaining = std::make_shared<std::uint64_t>(blob.size);
    if (!*file) {
      std::lock_guard lock(state->mutex);
      state->error = "cannot open blob " + blob.digest + " at " + path.string();
      return [](char*, size_t) -> size_t { return SIZE_MAX; };
    }
    return [file, hasher, remaining, path, blob, state](char* buffer, size_t size) -> size_t {
      if (*remaining == 0) {
        return 0;
      }
      const auto requested = static_cast<std::streamsize>(std::min<std::uint64_t>(size, *remaining));
      file->read(buffer, requested);
      const auto count = file->gcount();
      std::lock_guard lock(state->mutex);
      if (count < requested) {
        state->error = "blob " + blob.digest + " at " + path.string() + " is shorter than its descriptor size of " +
                       std::to_string(blob.size) + " bytes; rebuild the image into a fresh layout directory";
        return SIZE_MAX;
      }
      hasher->update(buffer, static_cast<size_t>(count));
      *remaining -= static_cast<std::uint64_t>(count);
      state->bytes_sent += static_cast<std::uint64_t>(count);
      if (*remaining == 0) {
        const std::string actual = hasher->finish();
        if (actual != blob.digest) {
          state->error = "blob " + blob.digest + " at " + path.string() + " is corrupt: its content has digest " +
                         actual + "; rebuild the image into a fresh layout directory";
          return SIZE_MAX;
        }
      }
      return static_cast<size_t>(count);
    };
  };
}

class DestinationPush {
 public:
  DestinationPush(const oci::Image& image, const Destination& destination, Target& target, HostState& host,
                  Observer& observer, const std::atomic<bool>& cancelled, const RetryPolicy& retry)
      : image_(image), destination_(destination), target_(target), host_(host), observer_(observer),
        cancelled_(cancelled), retry_(retry) {
    result_.destination = destination;
    result_.digest = image.digest();
  }

  DestinationResult run() {
    const std::string& repository = destination_.repository;
    int attempts = 0;
    auto access = with_retry([&] { return target_.check_push_access(repository); }, attempts);
    if (!check(access, "checking push access to " + name())) {
      return finish();
    }
    for (const auto& blob : image_.blobs()) {
      if (interrupted() || !push_blob(blob)) {
        return finish();
      }
    }
    for (const auto& child : image_.platforms) {
      if (interrupted() || !push_manifest(child.stored)) {
        return finish();
      }
    }
    for (const auto& child : image_.attestations) {
      if (interrupted() || !push_manifest(child.stored)) {
        return finish();
      }
    }
    if (interrupted() || !push_manifest(image_.root)) {
      return finish();
    }
    for (const auto& tag : destination_.tags) {
      if (interrupted()) {
        return finish();
      }
      push_tag(tag);
    }
    return finish();
  }

 private:
  std::string name() const { return destination_.registry + "/" + destination_.repository; }

  DestinationResult finish() {
    result_.ok = result_.error.empty();
    return result_;
  }

  bool interrupted() {
    if (cancelled_.load()) {
      fail("interrupted before the push to " + name() + " finished; run the command again to complete it");
      return true;
    }
    return false;
  }

  void fail(const std::string& message) {
    if (result_.error.empty()) {
      result_.error = output::redact(message);
    }
  }

  template <typename T>
  bool check(const registry::Result<T>& outcome, const std::string& action) {
    if (outcome) {
      return true;
    }
    result_.unauthorized = result_.unauthorized || outcome.error().unauthorized;
    fail(action + " failed: " + describe(outcome.error()));
    return false;
  }

  // Calls `operation` until it succeeds, fails for good, or the attempts run out.
  template <typename Operation>
  auto with_retry(Operation&& operation, int& attempts) -> decltype(operation()) {
    for (attempts = 1;; ++attempts) {
      auto outcome = operation();
      if (outcome || !outcome.error().retryable || attempts >= retry_.max_attempts || cancelled_.load()) {
        return outcome;
      }
      backoff(attempts);
    }
  }

  // Sleeps base_delay * 2^(attempt-1) plus up to 50% jitter, waking early on cancellation.
  // NOTE: a Retry-After header is not honoured here, since RegistryError does not carry it.
  void backoff(int attempt) {
    thread_local std::mt19937 random(std::random_device{}());
    const auto base = retry_.base_delay * (1 << std::min(attempt - 1, 6));
    std::uniform_int_distribution<long long> jitter(0, base.count() / 2);
    const auto deadline = Clock::now() + base + std::chrono::milliseconds(jitter(random));
    while (Clock::now() < deadline && !cancelled_.load()) {
      std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), deadline - Clock::now()));
    }
  }

  bool push_blob(const oci::Descriptor& blob) {
    const auto started = Clock::now();
    const std::string& repository = destination_.repository;
    int attempts = 0;
    const auto report = [&](std::string_view outcome, std::uint64_t bytes_sent, int total_attempts) {
      const std::chrono::duration<double> seconds = Clock::now() - started;
      observer_.blob(destination_, blob.digest, blob.size, outcome, bytes_sent, seconds.count(), total_attempts);
    };

    auto exists = with_retry([&] { return target_.blob_exists(repository, blob.digest); }, attempts);
    if (!check(exists, "checking blob " + blob.digest + " in " + name())) {
      report("failed", 0, attempts);
      return false;
    }
    if (*exists) {
      host_.record(blob.digest, repository);
      ++result_.blobs_skipped;
      report("skipped", 0, attempts);
      return true;
    }

    std::optional<registry::UploadSession> session;
    if (const auto source = host_.mount_source(blob.digest, repository)) {
      auto mounted = with_retry([&] { return target_.mount_blob(repository, blob.digest, *source); }, attempts);
      if (mounted && !mounted->has_value()) {
        host_.record(blob.digest, repository);
        ++result_.blobs_mounted;
        report("mounted", 0, attempts);
        return true;
      }
      if (mounted) {
        // The registry did not mount but opened an upload session instead.
        session = **mounted;
      }
    }

    const fs::path path = image_.blob_path(blob.digest);
    std::error_code size_error;
    const auto file_size = fs::file_size(path, size_error);
    if (size_error || file_size != blob.size) {
      fail(size_error ? "blob " + blob.digest + " is missing from the OCI layout: " + path.string()
                      : "blob " + blob.digest + " at " + path.string() + " is " + std::to_string(file_size) +
                            " bytes, but its descriptor says " + std::to_string(blob.size) +
                            "; rebuild the image into a fresh layout directory");
      report("failed", 0, 1);
      return false;
    }

    auto state = std::make_shared<BlobReadState>();
    const auto source = make_blob_source(path, blob, state);
    for (attempts = 1;; ++attempts) {
      if (!session) {
        auto started_upload = target_.start_upload(repository);
        if (!started_upload) {
          if (started_upload.error().retryable && attempts < retry_.max_attempts && !cancelled_.load()) {
            backoff(attempts);
            continue;
          }
          check(started_upload, "starting the upload of blob " + blob.digest + " to " + name());
          report("failed", state->bytes_sent, attempts);
          return false;
        }
        session = *started_upload;
      }
      auto uploaded = target_.upload_blob(*session, blob.digest, blob.size, source);
      if (uploaded) {
        break;
      }
      session.reset();
      std::string read_error;
      {
        std::lock_guard lock(state->mutex);
        read_error = state->error;
      }
      if (!read_error.empty()) {
        fail(read_error);
        report("failed", state->bytes_sent, attempts);
        return false;
      }
      if (!uploaded.error().retryable || attempts >= retry_.max_attempts || cancelled_.load()) {
        check(uploaded, "uploading blob " + blob.digest + " to " + name());
        report("failed", state->bytes_sent, attempts);
        return false;
      }
      backoff(attempts);
    }
    host_.record(blob.digest, repository);
    ++result_.blobs_uploaded;
    report("uploaded", state->bytes_sent, attempts);
    return true;
  }

  bool push_manifest(const oci::StoredManifest& stored) {
    const auto& descriptor = stored.descriptor;
    int attempts = 0;
    auto pushed = with_retry(
        [&] {
          return target_.put_manifest(destination_.repository, descriptor.digest, descriptor.media_type, stored.bytes);
        },
        attempts);
    bool ok = check(pushed, "pushing manifest " + descriptor.digest + " to " + name());
    if (ok && *pushed != descriptor.digest) {
      fail(name() + " stored manifest " + descriptor.digest + " under digest " + *pushed +
           "; the registry changed the manifest bytes");
      ok = false;
    }
    observer_.manifest(destination_, descriptor.digest, descriptor.media_type, ok);
    return ok;
  }

  void push_tag(const std::string& tag) {
    const auto& root = image_.root;
    int attempts = 0;
    auto pushed = with_retry(
        [&] { return target_.put_manifest(destination_.repository, tag, root.descriptor.media_type, root.bytes); },
        attempts);
    bool ok = check(pushed, "tagging " + name() + ":" + tag);
    if (ok && *pushed != root.descriptor.digest) {
      fail(name() + ":" + tag + " was stored with digest " + *pushed + " instead of " + root.descriptor.digest);
      ok = false;
    }
    if (ok) {
      result_.tags.push_back(tag);
    }
    observer_.tag(destination_, tag, root.descriptor.digest, ok);
  }

  const oci::Image& image_;
  const Destination& destination_;
  Target& target_;
  HostState& host_;
  Observer& observer_;
  const std::atomic<bool>& cancelled_;
  const RetryPolicy& retry_;
  DestinationResult result_;
};

}  // namespace

std::string describe(const registry::RegistryError& error) {
  std::string text = error.message;
  if (text.empty()) {
    text = error.status == 0 ? "connection failed" : "HTTP " + std::to_string(error.status);
  }
  if (!error.method.empty() && text.find(error.url) == std::string::npos) {
    text += " (" + error.method + " " + error.url + ")";
  }
  return text;
}

std::vector<DestinationResult> push_to_targets(const oci::Image& image, const std::vector<Destination>& destinations,
                                               const std::vector<Target*>& targets, Observer& observer,
                                               const std::atomic<bool>& cancelled, const RetryPolicy& retry) {
  // Attestations are stripped once, so every destination that drops them
  // receives the same index bytes and digest.
  std::optional<oci::Image> stripped;
  std::map<Target*, int> connections;
  for (size_t i = 0; i < destinations.size(); ++i) {
    if (destinations[i].drop_attestations && !stripped) {
      stripped = oci::without_attestations(image);
    }
    const int limit = std::max(1, destinations[i].max_connections);
    const auto [entry, inserted] = connections.emplace(targets[i], limit);
    if (!inserted) {
      entry->second = std::min(entry->second, limit);
    }
  }
  std::map<Target*, std::unique_ptr<HostState>> hosts;
  for (const auto& [target, limit] : connections) {
    hosts.emplace(target, std::make_unique<HostState>(limit));
  }

  std::vector<DestinationResult> results(destinations.size());
  std::vector<std::thread> workers;
  workers.reserve(destinations.size());
  for (size_t i = 0; i < destinations.size(); ++i) {
    workers.emplace_back([&, i] {
      const Destination& destination = destinations[i];
      HostState& host = *hosts.at(targets[i]);
      const oci::Image& source = destination.drop_attestations ? *stripped : image;
      host.slots.acquire();
      try {
        results[i] = DestinationPush(source, destination, *targets[i], host, observer, cancelled, retry).run();
      } catch (const std::exception& error) {
        results[i].destination = destination;
        results[i].error = output::redact("internal error while pushing to " + destination.registry + "/" +
                                          destination.repository + ": " + error.what());
      }
      host.slots.release();
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  return results;
}

}  // namespace multipush::push::detail
