#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "multipush/output/redact.hpp"
#include "push/destination.hpp"
#include "push/origin.hpp"
#include "push/ring.hpp"
#include "push/target.hpp"

namespace multipush::push::detail {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `work(item)` for every item on its own thread and waits for all.
template <typename Item, typename Work>
void run_parallel(std::vector<Item>& items, Work&& work) {
  if (items.size() == 1) {
    work(items.front());
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(items.size());
  for (auto& item : items) {
    threads.emplace_back([&work, &item] { work(item); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
}

// Limits the uploads that read from rings, per registry and overall. A blob
// group takes the slots of all its registries at once, so two groups never
// each hold a slot that the other waits for while their rings wait on each
// other's readers.
class UploadBudget {
 public:
  explicit UploadBudget(int total) : total_(std::max(1, total)) {}

  void acquire(const std::vector<HostState*>& hosts) {
    std::unique_lock lock(mutex_);
    const int needed = std::min<int>(static_cast<int>(hosts.size()), total_);
    released_.wait(lock, [&] {
      return in_flight_ + needed <= total_ &&
             std::all_of(hosts.begin(), hosts.end(), [](HostState* host) { return host->uploads < host->max_uploads; });
    });
    in_flight_ += needed;
    for (auto* host : hosts) {
      ++host->uploads;
    }
  }

  void release(const std::vector<HostState*>& hosts) {
    {
      std::lock_guard lock(mutex_);
      in_flight_ -= std::min<int>(static_cast<int>(hosts.size()), total_);
      for (auto* host : hosts) {
        --host->uploads;
      }
    }
    released_.notify_all();
  }

 private:
  const int total_;
  int in_flight_ = 0;
  std::mutex mutex_;
  std::condition_variable released_;
};

// One destination's part in pushing one blob.
struct Member {
  DestinationRun* run = nullptr;
  bool present = false;
  bool done = false;                               // skipped, mounted or uploaded
  std::optional<registry::UploadSession> session;  // from a mount answered with 202
  int attempts = 0;
  std::uint64_t bytes_sent = 0;
};

// Mount attempts per blob and destination, so that a long list of stale
// distribution-source annotations costs a bounded number of requests.
constexpr std::size_t kMaxMountAttempts = 3;

// Pushes one blob to every destination that needs it: HEAD on each, a
// mount where another repository of the same registry has it, and one read
// of the blob streamed to the rest at once.
class BlobGroup {
 public:
  BlobGroup(const oci::Descriptor& blob, BlobOrigin& origin, std::vector<DestinationRun*> runs, UploadBudget& budget,
            const std::atomic<bool>& cancelled, const RetryPolicy& retry, const PushOptions& options)
      : blob_(blob), origin_(origin), budget_(budget), cancelled_(cancelled), retry_(retry), options_(options) {
    for (auto* run : runs) {
      Member member;
      member.run = run;
      members_.push_back(member);
    }
  }

  void run() {
    // Every member's destination waits for this blob to be settled, also
    // when this group ends with an exception.
    struct SettleOnExit {
      std::vector<Member>& members;
      ~SettleOnExit() {
        for (auto& member : members) {
          member.run->blob_settled();
        }
      }
    } settle{members_};
    started_ = Clock::now();
    std::vector<Member*> live;
    for (auto& member : members_) {
      if (!cancelled_.load() && member.run->wait_ready()) {
        live.push_back(&member);
      }
    }
    if (!live.empty()) {
      check_presence(live);
      mount_known(live);
      upload_missing(live);
    }
  }

 private:
  void check_presence(std::vector<Member*>& live) {
    run_parallel(live, [this](Member* member) {
      DestinationRun& run = *member->run;
      auto exists = with_retry(
          retry_, cancelled_, [&] { return run.target().blob_exists(run.destination().repository, blob_.digest); },
          member->attempts);
      if (!run.check(exists, "checking blob " + blob_.digest + " in " + run.name())) {
        run.report_blob(blob_, "failed", 0, seconds_since(started_), member->attempts);
        member->done = true;
        return;
      }
      if (*exists) {
        run.host().record(blob_.digest, run.destination().repository);
        run.report_blob(blob_, "skipped", 0, seconds_since(started_), member->attempts);
        member->done = true;
        member->present = true;
      }
    });
  }

  // Mounts from a repository of the same registry that contains the blob:
  // one this run pushed it to, then those that distribution-source
  // annotations name. Mounts never cross registries: `from` always names a
  // repository on the destination's own host.
  void mount_known(std::vector<Member*>& live) {
    std::vector<std::pair<Member*, std::vector<std::string>>> mounts;
    for (auto* member : live) {
      if (member->done) {
        continue;
      }
      if (auto sources = mount_sources(*member->run); !sources.empty()) {
        mounts.emplace_back(member, std::move(sources));
      }
    }
    if (mounts.empty()) {
      return;
    }
    run_parallel(mounts, [this](std::pair<Member*, std::vector<std::string>>& mount) {
      for (const auto& source : mount.second) {
        // A 202 reply opened an upload session, which the upload continues,
        // so no further mount is tried.
        if (try_mount(*mount.first, source) || mount.first->session) {
          return;
        }
      }
    });
  }

  std::vector<std::string> mount_sources(DestinationRun& run) const {
    const std::string& repository = run.destination().repository;
    std::vector<std::string> sources;
    if (auto known = run.host().mount_source(blob_.digest, repository)) {
      sources.push_back(*known);
    }
    for (auto& hinted : run.image().mount_hints(blob_.digest, run.destination().registry)) {
      if (hinted != repository && std::find(sources.begin(), sources.end(), hinted) == sources.end()) {
        sources.push_back(std::move(hinted));
      }
    }
    if (sources.size() > kMaxMountAttempts) {
      sources.resize(kMaxMountAttempts);
    }
    return sources;
  }

  // Returns true when mounted, and keeps the upload session of a 202 reply.
  bool try_mount(Member& member, const std::string& source) {
    DestinationRun& run = *member.run;
    int attempts = 0;
    auto mounted = with_retry(
        retry_, cancelled_,
        [&] { return run.target().mount_blob(run.destination().repository, blob_.digest, source); }, attempts);
    member.attempts += attempts;
    if (mounted && !mounted->has_value()) {
      run.host().record(blob_.digest, run.destination().repository);
      run.report_blob(blob_, "mounted", 0, seconds_since(started_), member.attempts);
      member.done = true;
      return true;
    }
    if (mounted) {
      // The registry did not mount but opened an upload session instead.
      member.session = **mounted;
    }
    return false;
  }

  void upload_missing(std::vector<Member*>& live) {
    // One destination per registry reads the ring; the others on the same
    // registry mount from it afterwards, or upload on their own.
    std::vector<Member*> streamed;
    std::vector<Member*> later;
    std::vector<HostState*> hosts;
    for (auto* member : live) {
      if (member->done) {
        continue;
      }
      HostState* host = &member->run->host();
      if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
        hosts.push_back(host);
        streamed.push_back(member);
      } else {
        later.push_back(member);
      }
    }
    if (streamed.empty()) {
      return;
    }
    std::vector<Member*> missing = streamed;
    missing.insert(missing.end(), later.begin(), later.end());
    if (!check_origin(missing)) {
      return;
    }

    budget_.acquire(hosts);
    stream(streamed);
    budget_.release(hosts);

    run_parallel(later, [this](Member* member) {
      const std::string repository = member->run->destination().repository;
      if (!member->session) {
        if (auto source = member->run->host().mount_source(blob_.digest, repository)) {
          if (try_mount(*member, *source)) {
            return;
          }
        }
      }
      upload_separately(*member);
    });
  }

  // Fails every member when the blob cannot be read, such as a layout file
  // that is missing or has the wrong size.
  bool check_origin(const std::vector<Member*>& members) {
    const std::string message = origin_.check(blob_);
    if (message.empty()) {
      return true;
    }
    for (auto* member : members) {
      member->run->fail(message);
      member->run->report_blob(blob_, "failed", 0, seconds_since(started_), std::max(1, member->attempts));
      member->done = true;
    }
    return false;
  }

  // Reads the blob once into a ring that every member in `members` uploads from.
  void stream(std::vector<Member*>& members) {
    ChunkRing ring(options_.chunk_size, options_.ring_chunks, members.size());
    std::thread reader([&] { origin_.fill(ring, blob_, cancelled_); });
    std::vector<std::pair<Member*, std::size_t>> readers;
    for (std::size_t i = 0; i < members.size(); ++i) {
      readers.emplace_back(members[i], i);
    }
    run_parallel(readers, [&](std::pair<Member*, std::size_t>& entry) {
      auto [member, index] = entry;
      auto file_state = std::make_shared<FileReadState>();
      auto used = std::make_shared<std::atomic<bool>>(false);
      const auto counted = counter(*member);
      // The first attempt reads the ring. A retry (by the client or here)
      // detaches from the ring and reads the blob again for this
      // destination only.
      const registry::BlobSource source = [&ring, index, used, file_state, counted, this]() -> http::BodyReader {
        if (!ring.detached(index) && !used->exchange(true)) {
          return [&ring, index, counted](char* buffer, std::size_t size) -> std::size_t {
            const std::size_t count = ring.read(index, buffer, size);
            if (count != 0 && count != SIZE_MAX) {
              counted(count);
            }
            return count;
          };
        }
        ring.detach(index);
        return origin_.open(blob_, file_state, counted);
      };
      upload(*member, source, [&ring, file_state] {
        std::lock_guard lock(file_state->mutex);
        return file_state->error.empty() ? ring.error() : file_state->error;
      });
      ring.detach(index);
    });
    reader.join();
  }

  void upload_separately(Member& member) {
    auto file_state = std::make_shared<FileReadState>();
    const auto counted = counter(member);
    const registry::BlobSource source = [this, file_state, counted] {
      return origin_.open(blob_, file_state, counted);
    };
    upload(member, source, [file_state] {
      std::lock_guard lock(file_state->mutex);
      return file_state->error;
    });
  }

  std::function<void(std::uint64_t)> counter(Member& member) {
    return [&member](std::uint64_t count) {
      member.bytes_sent += count;
      member.run->observer().sent(member.run->destination(), count);
    };
  }

  // Uploads with retries, each with a fresh session. `read_error` returns
  // the reason reading the blob failed, which no retry can fix.
  void upload(Member& member, const registry::BlobSource& source, const std::function<std::string()>& read_error) {
    DestinationRun& run = *member.run;
    const std::string& repository = run.destination().repository;
    for (int attempt = 1;; ++attempt) {
      member.attempts = attempt;
      if (!member.session) {
        auto started = run.target().start_upload(repository);
        if (!started) {
          if (started.error().retryable && attempt < retry_.max_attempts && !cancelled_.load()) {
            backoff(retry_, attempt, cancelled_);
            continue;
          }
          run.check(started, "starting the upload of blob " + blob_.digest + " to " + run.name());
          break;
        }
        member.session = *started;
      }
      auto uploaded = run.target().upload_blob(*member.session, blob_.digest, blob_.size, source);
      if (uploaded) {
        run.host().record(blob_.digest, repository);
        run.report_blob(blob_, "uploaded", member.bytes_sent, seconds_since(started_), attempt);
        member.done = true;
        return;
      }
      member.session.reset();
      if (const std::string error = read_error(); !error.empty()) {
        run.fail(error);
        break;
      }
      if (!uploaded.error().retryable || attempt >= retry_.max_attempts || cancelled_.load()) {
        run.check(uploaded, "uploading blob " + blob_.digest + " to " + run.name());
        break;
      }
      backoff(retry_, attempt, cancelled_);
    }
    run.report_blob(blob_, "failed", member.bytes_sent, seconds_since(started_), member.attempts);
    member.done = true;
  }

  const oci::Descriptor& blob_;
  BlobOrigin& origin_;
  UploadBudget& budget_;
  const std::atomic<bool>& cancelled_;
  const RetryPolicy& retry_;
  const PushOptions& options_;
  std::vector<Member> members_;
  Clock::time_point started_;
};

// Returns every blob of the image and of its stripped copy, deduplicated,
// largest first. The longest uploads then start together, and the small
// blobs fill the remaining slots instead of delaying a large one.
std::vector<oci::Descriptor> all_blobs(const oci::Image& image, const std::optional<oci::Image>& stripped) {
  std::vector<oci::Descriptor> blobs = image.blobs();
  if (stripped) {
    for (const auto& blob : stripped->blobs()) {
      const bool known = std::any_of(blobs.begin(), blobs.end(),
                                     [&](const oci::Descriptor& other) { return other.digest == blob.digest; });
      if (!known) {
        blobs.push_back(blob);
      }
    }
  }
  std::stable_sort(blobs.begin(), blobs.end(),
                   [](const oci::Descriptor& left, const oci::Descriptor& right) { return left.size > right.size; });
  return blobs;
}

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
                                               const std::atomic<bool>& cancelled, const RetryPolicy& retry,
                                               const PushOptions& options, BlobStore* store) {
  // Attestations are stripped once, so every destination that drops them
  // receives the same index bytes and digest.
  std::optional<oci::Image> stripped;
  std::map<Target*, int> limits;
  for (size_t i = 0; i < destinations.size(); ++i) {
    if (destinations[i].drop_attestations && !stripped) {
      stripped = oci::without_attestations(image);
    }
    const int limit = std::max(1, destinations[i].max_connections);
    const auto [entry, inserted] = limits.emplace(targets[i], limit);
    if (!inserted) {
      entry->second = std::min(entry->second, limit);
    }
  }
  std::map<Target*, std::unique_ptr<HostState>> hosts;
  for (const auto& [target, limit] : limits) {
    hosts.emplace(target, std::make_unique<HostState>(limit));
  }

  std::vector<std::unique_ptr<DestinationRun>> runs;
  for (size_t i = 0; i < destinations.size(); ++i) {
    const oci::Image& source = destinations[i].drop_attestations ? *stripped : image;
    runs.push_back(std::make_unique<DestinationRun>(source, destinations[i], *targets[i], *hosts.at(targets[i]),
                                                    observer, cancelled, retry));
  }

  std::vector<DestinationResult> results(destinations.size());
  std::vector<std::thread> workers;
  for (size_t i = 0; i < destinations.size(); ++i) {
    workers.emplace_back([&, i] {
      try {
        results[i] = runs[i]->run();
      } catch (const std::exception& error) {
        results[i].destination = destinations[i];
        results[i].error = output::redact("internal error while pushing to " + runs[i]->name() + ": " + error.what());
        runs[i]->abandon(results[i].error);
      }
    });
  }

  // Blob groups run a few at a time, and each buffers at most ring_chunks chunks.
  const std::vector<oci::Descriptor> blobs = all_blobs(image, stripped);
  LayoutOrigin layout_origin(image);
  std::optional<StoreOrigin> store_origin;
  if (store != nullptr) {
    store_origin.emplace(*store, options.chunk_size, options.ring_chunks, cancelled);
  }
  BlobOrigin& origin = store_origin ? static_cast<BlobOrigin&>(*store_origin) : layout_origin;
  UploadBudget budget(options.max_total_connections);
  std::atomic<size_t> next{0};
  const size_t group_workers = std::clamp<size_t>(static_cast<size_t>(std::max(1, options.concurrent_blobs)), 1,
                                                  std::max<size_t>(blobs.size(), 1));
  for (size_t w = 0; w < group_workers; ++w) {
    workers.emplace_back([&] {
      for (size_t index = next++; index < blobs.size(); index = next++) {
        const oci::Descriptor& blob = blobs[index];
        std::vector<DestinationRun*> members;
        for (auto& run : runs) {
          if (run->needs(blob.digest)) {
            members.push_back(run.get());
          }
        }
        BlobGroup group(blob, origin, members, budget, cancelled, retry, options);
        try {
          group.run();
        } catch (const std::exception& error) {
          for (auto* run : members) {
            run->fail("internal error while pushing blob " + blob.digest + " to " + run->name() + ": " + error.what());
          }
        }
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }

  for (size_t i = 0; i < destinations.size(); ++i) {
    if (destinations[i].drop_attestations && stripped && stripped->digest() != image.digest()) {
      results[i].note = "attestations dropped (attestations: drop), so this registry has index " +
                        stripped->digest() + " instead of " + image.digest();
    }
  }
  return results;
}

}  // namespace multipush::push::detail
