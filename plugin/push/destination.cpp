#include "push/destination.hpp"

#include "multipush/output/redact.hpp"

namespace multipush::push::detail {

using Clock = std::chrono::steady_clock;

void backoff(const RetryPolicy& retry, int attempt, const std::atomic<bool>& cancelled) {
  thread_local std::mt19937 random(std::random_device{}());
  const auto base = retry.base_delay * (1 << std::min(attempt - 1, 6));
  std::uniform_int_distribution<long long> jitter(0, base.count() / 2);
  const auto deadline = Clock::now() + base + std::chrono::milliseconds(jitter(random));
  while (Clock::now() < deadline && !cancelled.load()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), deadline - Clock::now()));
  }
}

std::optional<std::string> HostState::mount_source(const std::string& digest, const std::string& repository) {
  std::lock_guard lock(mutex);
  const auto range = holders.equal_range(digest);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second != repository) {
      return it->second;
    }
  }
  return std::nullopt;
}

void HostState::record(const std::string& digest, const std::string& repository) {
  std::lock_guard lock(mutex);
  const auto range = holders.equal_range(digest);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == repository) {
      return;
    }
  }
  holders.emplace(digest, repository);
}

DestinationRun::DestinationRun(const oci::Image& image, const Destination& destination, Target& target,
                               HostState& host, Observer& observer, const std::atomic<bool>& cancelled,
                               const RetryPolicy& retry)
    : image_(image), destination_(destination), target_(target), host_(host), observer_(observer),
      cancelled_(cancelled), retry_(retry) {
  result_.destination = destination;
  result_.digest = image.digest();
  for (const auto& blob : image.blobs()) {
    blobs_.insert(blob.digest);
  }
  blobs_left_ = blobs_.size();
}

bool DestinationRun::wait_ready() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return ready_; });
  return !failed_.load();
}

void DestinationRun::abandon(const std::string& message) {
  fail(message);
  {
    std::lock_guard lock(mutex_);
    ready_ = true;
  }
  changed_.notify_all();
}

void DestinationRun::blob_settled() {
  {
    std::lock_guard lock(mutex_);
    --blobs_left_;
  }
  changed_.notify_all();
}

void DestinationRun::fail(const std::string& message) {
  std::lock_guard lock(mutex_);
  if (result_.error.empty()) {
    result_.error = output::redact(message);
  }
  failed_.store(true);
}

void DestinationRun::report_blob(const oci::Descriptor& blob, std::string_view outcome, std::uint64_t bytes_sent,
                                 double seconds, int attempts) {
  {
    std::lock_guard lock(mutex_);
    if (outcome == "uploaded") {
      ++result_.blobs_uploaded;
    } else if (outcome == "mounted") {
      ++result_.blobs_mounted;
    } else if (outcome == "skipped") {
      ++result_.blobs_skipped;
    }
  }
  observer_.blob(destination_, blob.digest, blob.size, outcome, bytes_sent, seconds, attempts);
}

bool DestinationRun::interrupted() {
  if (cancelled_.load()) {
    fail("interrupted before the push to " + name() + " finished; run the command again to complete it");
    return true;
  }
  return false;
}

DestinationResult DestinationRun::run() {
  std::uint64_t total_bytes = 0;
  for (const auto& blob : image_.blobs()) {
    total_bytes += blob.size;
  }
  observer_.planned(destination_, blobs_.size(), total_bytes);

  if (!interrupted()) {
    int attempts = 0;
    auto access = with_retry(
        retry_, cancelled_, [&] { return target_.check_push_access(destination_.repository); }, attempts);
    check(access, "checking push access to " + name());
  }
  {
    std::unique_lock lock(mutex_);
    ready_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return blobs_left_ == 0; });
  }
  if (failed() || interrupted()) {
    return finish();
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
  for (const auto& child : image_.referrers) {
    if (interrupted() || !push_manifest(child.stored)) {
      return finish();
    }
  }
  if (interrupted() || !push_manifest(image_.root)) {
    return finish();
  }
  for (const auto& child : image_.referrers) {
    if (interrupted() || !add_referrer(child)) {
      return finish();
    }
  }
  for (const auto& tag : destination_.tags) {
    if (interrupted()) {
      return finish();
    }
    push_tag(tag);
  }
  return finish();
}

DestinationResult DestinationRun::finish() {
  std::lock_guard lock(mutex_);
  result_.ok = result_.error.empty();
  return result_;
}

bool DestinationRun::push_manifest(const oci::StoredManifest& stored) {
  const auto& descriptor = stored.descriptor;
  // A manifest the registry already serves by this digest has these exact
  // bytes, so a re-run sends nothing.
  int attempts = 0;
  auto present = with_retry(
      retry_, cancelled_, [&] { return target_.head_manifest(destination_.repository, descriptor.digest); },
      attempts);
  if (present && present->value_or("") == descriptor.digest) {
    observer_.manifest(destination_, descriptor.digest, descriptor.media_type, true);
    return true;
  }
  auto pushed = with_retry(
      retry_, cancelled_,
      [&] { return target_.put_manifest(destination_.repository, descriptor.digest, descriptor.media_type, stored.bytes); },
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

bool DestinationRun::add_referrer(const oci::ChildManifest& referrer) {
  if (!referrer.manifest.subject) {
    return true;
  }
  const std::string& subject = referrer.manifest.subject->digest;
  int attempts = 0;
  auto added = with_retry(
      retry_, cancelled_,
      [&] { return target_.add_referrer(destination_.repository, subject, referrer.stored.descriptor); }, attempts);
  return check(added, "listing referrer " + referrer.stored.descriptor.digest + " of " + subject + " in " + name());
}

void DestinationRun::push_tag(const std::string& tag) {
  const auto& root = image_.root;
  int attempts = 0;
  auto current = with_retry(
      retry_, cancelled_, [&] { return target_.head_manifest(destination_.repository, tag); }, attempts);
  bool ok = current && current->value_or("") == root.descriptor.digest;
  if (!ok) {
    auto pushed = with_retry(
        retry_, cancelled_,
        [&] { return target_.put_manifest(destination_.repository, tag, root.descriptor.media_type, root.bytes); },
        attempts);
    ok = check(pushed, "tagging " + name() + ":" + tag);
    if (ok && *pushed != root.descriptor.digest) {
      fail(name() + ":" + tag + " was stored with digest " + *pushed + " instead of " + root.descriptor.digest);
      ok = false;
    }
  }
  if (ok) {
    std::lock_guard lock(mutex_);
    result_.tags.push_back(tag);
  }
  observer_.tag(destination_, tag, root.descriptor.digest, ok);
}

}  // namespace multipush::push::detail
