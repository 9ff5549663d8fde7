#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/oci/layout.hpp"
#include "multipush/registry/client.hpp"
#include "multipush/util/http.hpp"

// Pushing one loaded image to several destination repositories at once.
namespace multipush::push {

struct Destination {
  std::string registry;                  // host as in the config ("docker.io", "127.0.0.1:5000")
  std::string repository;                // "openim/openkf-server"
  std::vector<std::string> tags;         // tags to apply; empty: by digest only
  registry::RegistryClient* client = nullptr;  // shared by every destination on the same host
  bool drop_attestations = false;        // push an index without attestation manifests
  int max_connections = 4;               // blob uploads to this registry in flight at once (smallest value per client wins)
};

// Receives every blob, manifest and tag outcome for the run log and progress
// output. Called from worker threads, so implementations lock.
struct Observer {
  virtual ~Observer() = default;
  // `outcome` is "skipped", "mounted", "uploaded" or "failed".
  virtual void blob(const Destination&, const std::string& /*digest*/, std::uint64_t /*size*/,
                    std::string_view /*outcome*/, std::uint64_t /*bytes_sent*/, double /*seconds*/,
                    int /*attempts*/) {}
  virtual void manifest(const Destination&, const std::string& /*digest*/, std::string_view /*media_type*/,
                        bool /*ok*/) {}
  virtual void tag(const Destination&, const std::string& /*tag*/, const std::string& /*digest*/, bool /*ok*/) {}
  // Called once per destination before its blobs: how many blobs and bytes it may need.
  virtual void planned(const Destination&, std::size_t /*blobs*/, std::uint64_t /*bytes*/) {}
  // Called as blob bytes are handed to the HTTP client, many times per blob; keep it cheap.
  virtual void sent(const Destination&, std::uint64_t /*bytes*/) {}
};

struct DestinationResult {
  Destination destination;
  bool ok = false;
  std::string digest;                    // root digest this destination received (differs when attestations are dropped)
  std::vector<std::string> tags;         // tags written
  std::string error;                     // first failure, redacted
  bool unauthorized = false;             // the registry rejected the credentials or the push permission
  int blobs_uploaded = 0;
  int blobs_skipped = 0;
  int blobs_mounted = 0;
  // Why `digest` differs from the image's digest ("attestations dropped ..."); empty when it does not.
  std::string note;
};

// Limits of one push_image call.
struct PushOptions {
  int max_total_connections = 16;        // blob uploads in flight over every registry
  int concurrent_blobs = 4;              // blobs streamed at the same time; each buffers `ring_chunks` chunks
  std::size_t chunk_size = 256 * 1024;   // bytes read from the layout or blob store at a time
  std::size_t ring_chunks = 6;           // chunks one blob may buffer for its slowest destination
};

// Source of blob bytes for an image that is not in an OCI layout, such as
// the source registry of a mirror.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Streams the whole of `blob` to `sink` in order, from its first byte, and
  // checks its size and digest. Returns an error message naming the blob when
  // reading fails, when `sink` returns false, or when the bytes differ from
  // the descriptor. Called from several threads at once, once per blob and
  // again for each destination whose upload is retried.
  virtual std::expected<void, std::string> read(const oci::Descriptor& blob, const http::BodySink& sink) = 0;
};

// Pushes `image` to every destination concurrently; a failing destination
// never stops the others. Each blob is read from the layout once and
// streamed to every destination that lacks it at the same time. Per
// destination the order is: blobs, platform manifests, attestation
// manifests, referrer manifests, the root by digest, the referrers'
// fallback tags where the registry has no referrers API, then each tag.
// Returns one result per destination, in the order given.
std::vector<DestinationResult> push_image(const oci::Image& image, const std::vector<Destination>& destinations,
                                          Observer& observer, const std::atomic<bool>& cancelled,
                                          const PushOptions& options = {});

// Same as above, but reads blobs from `blobs` instead of the image's layout,
// so `image` may be built in memory with no layout directory.
std::vector<DestinationResult> push_image(const oci::Image& image, BlobStore& blobs,
                                          const std::vector<Destination>& destinations, Observer& observer,
                                          const std::atomic<bool>& cancelled, const PushOptions& options = {});

}  // namespace multipush::push
