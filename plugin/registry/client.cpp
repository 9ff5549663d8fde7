#include "multipush/registry/client.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "multipush/auth/challenge.hpp"
#include "multipush/auth/token.hpp"
#include "multipush/oci/digest.hpp"
#include "multipush/oci/manifest.hpp"
#include "multipush/output/redact.hpp"
#include "transport.hpp"

namespace multipush::registry {
namespace {

constexpr std::chrono::seconds kPingTimeout{30};
constexpr std::chrono::seconds kManifestTimeout{300};

constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

bool is_retryable_status(long status) { return status == 408 || status == 429 || status >= 500; }

std::uint64_t min_chunk_length_of(const http::Response& response) {
  auto value = response.header("oci-chunk-min-length");
  if (!value || value->empty() || value->size() > 19) return 0;
  if (!std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) return 0;
  return std::stoull(*value);
}

std::string media_type_of(const http::Response& response) {
  std::string type = response.header("content-type").value_or("");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

std::string push_scope(const std::string& repository) { return "repository:" + repository + ":pull,push"; }
std::string pull_scope(const std::string& repository) { return "repository:" + repository + ":pull"; }

// The time until which every request to one registry host waits, shared by
// every client of that host in the process, so that one 429 slows them all.
struct HostBackoff {
  std::mutex mutex;
  std::chrono::steady_clock::time_point until{};
};

std::shared_ptr<HostBackoff> host_backoff_for(const std::string& host) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<HostBackoff>> backoffs;
  std::lock_guard lock(mutex);
  auto& backoff = backoffs[host];
  if (!backoff) backoff = std::make_shared<HostBackoff>();
  return backoff;
}

// Reads a blob source chunk by chunk. Moving back (a chunk sent again)
// opens a fresh reader and skips to the offset; moving forward skips.
class ChunkCursor {
 public:
  explicit ChunkCursor(const BlobSource& source) : source_(source) {}

  bool seek(std::uint64_t offset) {
    if (!reader_ || position_ > offset) {
      reader_ = source_();
      position_ = 0;
    }
    std::array<char, 65536> discard{};
    while (position_ < offset) {
      size_t requested = static_cast<size_t>(std::min<std::uint64_t>(discard.size(), offset - position_));
      size_t count = reader_(discard.data(), requested);
      if (count == 0 || count == SIZE_MAX) return false;
      position_ += count;
    }
    return true;
  }

  // A reader of at most `length` bytes from the current position.
  http::BodyReader limited(std::uint64_t length) {
    auto remaining = std::make_shared<std::uint64_t>(length);
    return [this, remaining](char* buffer, size_t size) -> size_t {
      if (*remaining == 0) return 0;
      size_t requested = static_cast<size_t>(std::min<std::uint64_t>(size, *remaining));
      size_t count = reader_(buffer, requested);
      if (count == SIZE_MAX) return count;
      *remaining -= count;
      position_ += count;
      return count;
    };
  }

 private:
  const BlobSource& source_;
  http::BodyReader reader_;
  std::uint64_t position_ = 0;
};

nlohmann::json descriptor_json(const oci::Descriptor& descriptor) {
  nlohmann::json object = {{"mediaType", descriptor.media_type}, {"digest", descriptor.digest},
                           {"size", descriptor.size}};
  if (!descriptor.artifact_type.empty()) object["artifactType"] = descriptor.artifact_type;
  if (!descriptor.annotations.empty()) object["annotations"] = descriptor.annotations;
  return object;
}

// One registry call: what to send, and what to say about it in errors.
struct Call {
  std::string method{};
  std::string url{};
  std::string repository{};             // for token scopes and messages; may be empty
  std::vector<std::string> scopes{};
  http::Headers headers{};
  std::string body{};
  const BlobSource* source = nullptr;   // streamed body of `size` bytes
  std::uint64_t size = 0;
  std::chrono::seconds timeout{0};
  int max_attempts = 0;                 // 0: Options::retry.max_attempts; 1 for requests the caller retries
  const http::BodySink* sink = nullptr; // streamed response body
  std::function<void(long)> on_body_start{};
};

std::string reason_of(const Result<http::Response>& response) {
  return response ? "HTTP " + std::to_string(response->status) : output::redact(response.error().message);
}

}  // namespace

std::string RegistryError::str() const {
  std::string text = message;
  if (!method.empty()) {
    text += " (" + method + " " + url;
    if (status != 0) text += ", HTTP " + std::to_string(status);
    text += ")";
  }
  return output::redact(text);
}

struct RegistryClient::Impl {
  Options options;
  std::string api_host;
  http::TlsOptions tls;   // from certs.d; declared before `http`, which is built from it
  http::Client http;
  auth::Authenticator authenticator;

  std::mutex ping_mutex;
  std::string scheme;                           // empty until the first ping succeeds
  std::vector<auth::Challenge> challenges;      // from GET /v2/, updated by later 401s

  std::mutex slots_mutex;
  std::condition_variable slots_free;
  int in_flight = 0;

  std::shared_ptr<HostBackoff> host_backoff;
  std::mutex wait_mutex;
  std::chrono::milliseconds total_wait{0};      // summed over every retry of this client

  explicit Impl(Options opts)
      : options(std::move(opts)),
        api_host(detail::api_host(options.host)),
        tls(detail::load_certs_dir(options.certs_dir, options.host, options.insecure)),
        http(tls),
        authenticator(http, options.credentials),
        host_backoff(host_backoff_for(api_host)) {}

  std::string base_url() const { return scheme + "://" + api_host; }
  std::string v2_url(const std::string& path) const { return base_url() + "/v2/" + path; }
  bool is_registry_url(const std::string& url) const { return url.starts_with(base_url() + "/"); }

  Result<void> ensure_ready();
  Result<http::Response> ping(const std::string& candidate_scheme);
  Result<http::Response> execute(const Call& call);
  Result<http::Response> send_once(const Call& call, bool renew);
  // Decides whether `attempt` of `call`, which ended in `response`, is
  // tried again; if so, logs the retry, waits and returns true.
  bool retry_after_failure(const Call& call, int attempt, const Result<http::Response>& response);
  void wait_for_host();
  bool cancelled() const;
  // Checks the Docker-Content-Digest of a finished upload against `digest`.
  Result<void> check_stored_digest(const Call& call, const http::Response& response, const std::string& digest);
  // Sleeps until `until`; returns false early when the run is cancelled.
  bool sleep_until(std::chrono::steady_clock::time_point until) const;
  int max_attempts(const Call& call) const {
    return std::max(1, call.max_attempts > 0 ? call.max_attempts : options.retry.max_attempts);
  }
  struct UploadStatus {
    std::string location;
    std::uint64_t offset = 0;
  };
  Result<UploadStatus> upload_status(const UploadSession& session, std::uint64_t confirmed);
  Result<void> finish_upload(const UploadSession& session, const std::string& location, const std::string& digest,
                             int max_attempts);
  Result<void> upload_monolithic(const UploadSession& session, const std::string& digest, std::uint64_t size,
                                 const BlobSource& source);
  Result<void> upload_chunked(const UploadSession& session, const std::string& digest, std::uint64_t size,
                              const BlobSource& source, std::uint64_t chunk);
  void cancel(const UploadSession& session);

  RegistryError transport_error(const Call& call, const http::TransportError& error) const;
  RegistryError status_error(const Call& call, const http::Response& response) const;
  RegistryError auth_error(const Call& call, const auth::AuthError& error) const;

  std::vector<auth::Challenge> current_challenges() {
    std::lock_guard lock(ping_mutex);
    return challenges;
  }
};

RegistryError RegistryClient::Impl::transport_error(const Call& call, const http::TransportError& error) const {
  RegistryError result;
  result.method = call.method;
  result.url = detail::url_without_query(call.url);
  result.retryable = error.retryable;
  result.tls = error.tls;
  if (error.tls) {
    result.message = "the TLS connection to " + options.host + " failed: " + error.message +
                     ". If the registry uses a private CA, put its certificate in " +
                     (options.certs_dir / options.host / "ca.crt").string() +
                     ", or mark the registry insecure in multipush.yaml";
  } else if (error.after_connect && call.url.starts_with("https://") && !tls.client_cert) {
    // Under TLS 1.3 a registry that requires a client certificate rejects
    // the connection after the handshake, so libcurl reports a send or
    // receive error rather than a TLS one.
    result.message = "cannot reach " + options.host + " over TLS: " + error.message +
                     ". If the registry requires a client certificate, put client.cert and client.key in " +
                     (options.certs_dir / options.host).string() + "/";
  } else {
    result.message = "cannot reach " + options.host + ": " + error.message;
  }
  result.message = output::redact(result.message);
  return result;
}

RegistryError RegistryClient::Impl::status_error(const Call& call, const http::Response& response) const {
  RegistryError result;
  result.status = static_cast<int>(response.status);
  result.method = call.method;
  result.url = detail::url_without_query(call.url);
  result.retryable = is_retryable_status(response.status);
  std::string details;
  for (const auto& error : detail::parse_error_body(response.body)) {
    result.codes.push_back(error.code);
    details += (details.empty() ? "" : "; ") + error.code + (error.message.empty() ? "" : ": " + error.message);
  }
  std::string target = call.repository.empty() ? options.host : options.host + "/" + call.repository;
  const auto& credentials = options.credentials;
  std::string source = credentials && !credentials->source.empty() ? credentials->source : "the configured credentials";

  // A token server grants the requested actions that the account has and
  // drops the rest without an error, so a registry that then returns 401
  // with error="insufficient_scope" (or 403) is reporting a missing right,
  // not a bad password.
  bool insufficient_scope = false;
  for (const auto& header : response.header_values("www-authenticate")) {
    for (const auto& challenge : auth::parse_challenges(header)) {
      if (challenge.param("error") == "insufficient_scope") insufficient_scope = true;
    }
  }
  bool writes = call.method == "POST" || call.method == "PUT" || call.method == "PATCH" || call.method == "DELETE";
  std::string right = writes ? "push" : "pull";

  if (response.status == 401 && insufficient_scope) {
    result.unauthorized = true;
    result.message = (credentials ? "the credentials from " + source : std::string("anonymous access")) +
                     " do not grant " + right + " on " + target + " (registry " + options.host + ", repository " +
                     (call.repository.empty() ? std::string("-") : call.repository) + "): grant " + right +
                     " access to the account or token" +
                     (credentials ? std::string() : ", or log in with `docker login " + options.host + "`");
  } else if (response.status == 401) {
    result.unauthorized = true;
    result.message = credentials ? target + " rejected the credentials from " + source +
                                       ": check the username and password, or log in again with `docker login " +
                                       options.host + "`"
                                 : target + " requires authentication: log in with `docker login " + options.host +
                                       "` or set username and password for it in multipush.yaml";
  } else if (response.status == 403 ||
             std::find(result.codes.begin(), result.codes.end(), "DENIED") != result.codes.end()) {
    result.unauthorized = true;
    result.message = (credentials ? "the credentials from " + source : std::string("anonymous access")) +
                     " do not grant " + right + " on " + target + " (registry " + options.host + ", repository " +
                     (call.repository.empty() ? std::string("-") : call.repository) + "): grant " + right +
                     " access to the account or token";
  } else {
    result.message = target + " returned HTTP " + std::to_string(response.status) + " to " + call.method;
  }
  if (!details.empty()) result.message += " (" + details + ")";
  result.message = output::redact(result.message);
  return result;
}

RegistryError RegistryClient::Impl::auth_error(const Call& call, const auth::AuthError& error) const {
  RegistryError result;
  result.method = call.method;
  result.url = detail::url_without_query(call.url);
  result.message = output::redact(error.message);
  result.unauthorized = error.unauthorized;
  result.retryable = error.retryable;
  result.tls = error.tls;
  return result;
}

Result<http::Response> RegistryClient::Impl::ping(const std::string& candidate_scheme) {
  Call call;
  call.method = "GET";
  call.url = candidate_scheme + "://" + api_host + "/v2/";
  call.timeout = kPingTimeout;
  http::Request request;
  request.url = call.url;
  request.follow_redirects = true;
  request.timeout = kPingTimeout;
  request.cancel = options.cancel;
  auto response = http.send(request);
  if (!response) return std::unexpected(transport_error(call, response.error()));
  return std::move(*response);
}

Result<void> RegistryClient::Impl::ensure_ready() {
  std::lock_guard lock(ping_mutex);
  if (!scheme.empty()) return {};

  auto response = ping("https");
  bool plain_allowed = options.insecure || detail::is_loopback(options.host);
  if (!response && plain_allowed) {
    // Loopback and insecure registries may speak plain HTTP. Only a
    // registry response (200 or 401) counts, so that an HTTPS server that
    // rejects a plain request (400) keeps the HTTPS error.
    auto plain = ping("http");
    if (plain && (plain->status == 200 || plain->status == 401)) {
      spdlog::debug("{} speaks plain HTTP", options.host);
      response = std::move(plain);
      scheme = "http";
    }
  } else if (response) {
    scheme = "https";
  }
  if (!response) return std::unexpected(response.error());

  Call call{.method = "GET", .url = base_url() + "/v2/"};
  if (response->status == 200) return {};
  if (response->status == 401) {
    for (const auto& header : response->header_values("www-authenticate")) {
      auto parsed = auth::parse_challenges(header);
      challenges.insert(challenges.end(), parsed.begin(), parsed.end());
    }
    return {};
  }
  RegistryError error = status_error(call, *response);
  if (response->status == 404) {
    error.message = options.host + " is not an OCI registry: GET /v2/ returned 404. Check the registry host name";
  }
  scheme.clear();
  return std::unexpected(error);
}

Result<http::Response> RegistryClient::Impl::send_once(const Call& call, bool renew) {
  http::Request request;
  request.method = call.method;
  request.url = call.url;
  request.headers = call.headers;
  request.body = call.body;
  request.timeout = call.timeout;
  request.follow_redirects = true;
  request.cancel = options.cancel;
  if (call.source != nullptr) {
    request.body_reader = (*call.source)();
    request.body_size = call.size;
  }
  if (call.sink != nullptr) request.body_sink = *call.sink;
  request.on_body_start = call.on_body_start;
  if (is_registry_url(call.url)) {
    auto authorization = authenticator.authorization(current_challenges(), call.scopes, renew);
    if (!authorization) return std::unexpected(auth_error(call, authorization.error()));
    if (!authorization->empty() && call.url.starts_with("http://") && !detail::is_loopback(options.host)) {
      // Credentials cross the network only inside TLS; plain HTTP is for
      // loopback registries.
      RegistryError error;
      error.method = call.method;
      error.url = detail::url_without_query(call.url);
      error.unauthorized = true;
      error.message = options.host + " speaks plain HTTP and asks for credentials, which are sent only over "
                      "HTTPS to a registry that is not on loopback: serve the registry over TLS";
      return std::unexpected(error);
    }
    if (!authorization->empty()) request.headers.emplace_back("Authorization", *authorization);
  }

  wait_for_host();
  {
    std::unique_lock lock(slots_mutex);
    slots_free.wait(lock, [&] { return in_flight < std::max(1, options.max_connections); });
    ++in_flight;
  }
  auto response = http.send(request);
  {
    std::lock_guard lock(slots_mutex);
    --in_flight;
  }
  slots_free.notify_one();
  if (!response) return std::unexpected(transport_error(call, response.error()));
  return std::move(*response);
}

void RegistryClient::Impl::wait_for_host() {
  std::chrono::steady_clock::time_point until;
  {
    std::lock_guard lock(host_backoff->mutex);
    until = host_backoff->until;
  }
  sleep_until(until);
}

bool RegistryClient::Impl::cancelled() const { return options.cancel != nullptr && options.cancel->load(); }

bool RegistryClient::Impl::sleep_until(std::chrono::steady_clock::time_point until) const {
  // Short steps, so that an interrupted run does not wait out a backoff.
  constexpr std::chrono::milliseconds kStep{100};
  while (!cancelled()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kStep, until - now));
  }
  return false;
}

bool RegistryClient::Impl::retry_after_failure(const Call& call, int attempt, const Result<http::Response>& response) {
  bool retryable = response ? is_retryable_status(response->status) : response.error().retryable;
  if (!retryable || attempt >= max_attempts(call) || cancelled()) return false;

  const RetryPolicy& policy = options.retry;
  static thread_local std::mt19937 random{std::random_device{}()};
  auto backoff = policy.first_backoff * (1LL << std::min(attempt - 1, 20));
  std::chrono::milliseconds delay = std::min<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(backoff), policy.max_backoff);
  // Jitter spreads the retries of concurrent uploads apart.
  auto jitter_range = static_cast<int>(std::max<std::chrono::milliseconds::rep>(1, policy.first_backoff.count() / 2));
  delay += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, jitter_range)(random));
  std::optional<std::chrono::milliseconds> hinted;
  if (response) hinted = detail::retry_after(*response, std::chrono::system_clock::now());
  if (hinted) delay = std::min(*hinted, policy.max_backoff);

  {
    std::lock_guard lock(wait_mutex);
    if (total_wait + delay > policy.max_total_wait) {
      spdlog::warn("{} {} failed ({}); not retrying because the retries to {} already waited {} ms",
                   call.method, detail::url_without_query(call.url), reason_of(response), options.host,
                   total_wait.count());
      return false;
    }
    total_wait += delay;
  }
  if (response && (response->status == 429 || hinted)) {
    // The registry asked to slow down: every request to the host waits.
    std::lock_guard lock(host_backoff->mutex);
    host_backoff->until = std::max(host_backoff->until, std::chrono::steady_clock::now() + delay);
  }

  RetryEvent event{.host = options.host,
                   .method = call.method,
                   .url = detail::url_without_query(call.url),
                   .attempt = attempt,
                   .reason = reason_of(response),
                   .delay = delay};
  spdlog::debug("{} {} failed ({}), attempt {} of {}, retrying in {} ms", event.method, event.url, event.reason,
                attempt, max_attempts(call), delay.count());
  if (options.on_retry) options.on_retry(event);
  return sleep_until(std::chrono::steady_clock::now() + delay);
}

Result<http::Response> RegistryClient::Impl::execute(const Call& call) {
  if (auto ready = ensure_ready(); !ready) return std::unexpected(ready.error());

  bool renewed = false;
  for (int attempt = 1;; ++attempt) {
    auto response = send_once(call, renewed);
    if (response && response->status == 401 && !renewed) {
      // The token may have expired or lack a scope: take the new challenge
      // and fetch one more token before giving up.
      auto headers = response->header_values("www-authenticate");
      if (!headers.empty()) {
        std::vector<auth::Challenge> fresh;
        for (const auto& header : headers) {
          auto parsed = auth::parse_challenges(header);
          fresh.insert(fresh.end(), parsed.begin(), parsed.end());
        }
        std::lock_guard lock(ping_mutex);
        challenges = std::move(fresh);
      }
      renewed = true;
      --attempt;
      continue;
    }
    if (!retry_after_failure(call, attempt, response)) return response;
  }
}

RegistryClient::RegistryClient(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

RegistryClient::~RegistryClient() = default;

const std::string& RegistryClient::host() const { return impl_->options.host; }

std::string RegistryClient::scheme() {
  (void)impl_->ensure_ready();
  std::lock_guard lock(impl_->ping_mutex);
  return impl_->scheme.empty() ? "https" : impl_->scheme;
}

Result<void> RegistryClient::check_push_access(const std::string& repository) {
  // Opening an upload session needs push; cancelling it right away leaves
  // nothing behind.
  auto session = start_upload(repository);
  if (!session) return std::unexpected(session.error());
  Call cancel{.method = "DELETE", .url = session->location, .repository = repository,
              .scopes = {push_scope(repository)}};
  (void)impl_->send_once(cancel, false);
  return {};
}

Result<bool> RegistryClient::blob_exists(const std::string& repository, const std::string& digest) {
  Call call{.method = "HEAD", .url = {}, .repository = repository, .scopes = {push_scope(repository)}};
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  call.url = impl_->v2_url(repository + "/blobs/" + digest);
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status == 200) return true;
  if (response->status == 404) return false;
  return std::unexpected(impl_->status_error(call, *response));
}

Result<std::optional<UploadSession>> RegistryClient::mount_blob(const std::string& repository,
                                                                const std::string& digest,
                                                                const std::string& from_repository) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  Call call{.method = "POST",
            .url = impl_->v2_url(repository + "/blobs/uploads/?mount=" + http::url_encode(digest) +
                                 "&from=" + http::url_encode(from_repository)),
            .repository = repository,
            .scopes = {push_scope(repository), "repository:" + from_repository + ":pull"}};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status == 201) return std::optional<UploadSession>();
  auto location = response->header("location");
  if (response->status == 202 && location) {
    return std::optional<UploadSession>(
        UploadSession{http::resolve_url(call.url, *location), repository, min_chunk_length_of(*response)});
  }
  RegistryError error = impl_->status_error(call, *response);
  if (response->status == 202) error.message = impl_->options.host + " opened an upload session without a Location header";
  return std::unexpected(error);
}

Result<UploadSession> RegistryClient::start_upload(const std::string& repository) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  Call call{.method = "POST", .url = impl_->v2_url(repository + "/blobs/uploads/"), .repository = repository,
            .scopes = {push_scope(repository)}};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  auto location = response->header("location");
  if (response->status == 202 && location) {
    return UploadSession{http::resolve_url(call.url, *location), repository, min_chunk_length_of(*response)};
  }
  RegistryError error = impl_->status_error(call, *response);
  if (response->status == 202) error.message = impl_->options.host + " opened an upload session without a Location header";
  return std::unexpected(error);
}

Result<void> RegistryClient::upload_blob(const UploadSession& session, const std::string& digest, std::uint64_t size,
                                         const BlobSource& source) {
  std::uint64_t chunk = 0;
  if (impl_->options.chunk_size && *impl_->options.chunk_size > 0 && size > *impl_->options.chunk_size) {
    chunk = *impl_->options.chunk_size;
  }
  if (session.min_chunk_length > 0 && size > session.min_chunk_length) {
    // The registry requires chunks of at least this length.
    chunk = std::max(chunk, session.min_chunk_length);
  }
  if (chunk > 0) return impl_->upload_chunked(session, digest, size, source, chunk);
  return impl_->upload_monolithic(session, digest, size, source);
}

void RegistryClient::cancel_upload(const UploadSession& session) { impl_->cancel(session); }

void RegistryClient::Impl::cancel(const UploadSession& session) {
  Call call{.method = "DELETE", .url = session.location, .repository = session.repository,
            .scopes = {push_scope(session.repository)}, .max_attempts = 1};
  auto response = send_once(call, false);
  if (!response) {
    spdlog::debug("cancelling the upload session {} failed: {}", detail::url_without_query(session.location),
                  output::redact(response.error().message));
  }
}

Result<void> RegistryClient::Impl::finish_upload(const UploadSession& session, const std::string& location,
                                                 const std::string& digest, int attempts) {
  Call call{.method = "PUT",
            .url = detail::append_query(location, "digest", digest),
            .repository = session.repository,
            .scopes = {push_scope(session.repository)},
            .headers = {{"Content-Type", "application/octet-stream"}},
            .max_attempts = attempts};
  auto response = execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status != 201) return std::unexpected(status_error(call, *response));
  return check_stored_digest(call, *response, digest);
}

Result<void> RegistryClient::Impl::check_stored_digest(const Call& call, const http::Response& response,
                                                       const std::string& digest) {
  auto reported = response.header("docker-content-digest");
  if (!reported || reported->empty() || *reported == digest) return {};
  RegistryError error = status_error(call, response);
  error.message = options.host + " stored the blob uploaded as " + digest + " under the digest " + *reported +
                  ": the blob source is corrupt or changed during the upload";
  return std::unexpected(error);
}

Result<void> RegistryClient::Impl::upload_monolithic(const UploadSession& session, const std::string& digest,
                                                     std::uint64_t size, const BlobSource& source) {
  // NOTE: a 307/308 redirect of this PUT is returned as an error, because
  // the HTTP client does not resend a streamed body to the new location.
  UploadSession current = session;
  for (int attempt = 1;; ++attempt) {
    // A PUT that failed part way leaves the session in an unknown state, so
    // each retry opens a fresh session instead of repeating the request.
    Call call{.method = "PUT",
              .url = detail::append_query(current.location, "digest", digest),
              .repository = current.repository,
              .scopes = {push_scope(current.repository)},
              .headers = {{"Content-Type", "application/octet-stream"}},
              .body = {},
              .source = &source,
              .size = size,
              .max_attempts = 1};
    auto response = execute(call);
    if (response && response->status == 201) return check_stored_digest(call, *response, digest);
    RegistryError error = response ? status_error(call, *response) : response.error();
    cancel(current);
    Call retry_policy = call;
    retry_policy.max_attempts = 0;
    if (!retry_after_failure(retry_policy, attempt, response)) return std::unexpected(error);

    Call start{.method = "POST", .url = v2_url(current.repository + "/blobs/uploads/"),
               .repository = current.repository, .scopes = {push_scope(current.repository)}};
    auto opened = execute(start);
    if (!opened) return std::unexpected(opened.error());
    auto location = opened->header("location");
    if (opened->status != 202 || !location) return std::unexpected(status_error(start, *opened));
    current.location = http::resolve_url(start.url, *location);
  }
}

Result<RegistryClient::Impl::UploadStatus> RegistryClient::Impl::upload_status(const UploadSession& session,
                                                                               std::uint64_t confirmed) {
  Call call{.method = "GET", .url = session.location, .repository = session.repository,
            .scopes = {push_scope(session.repository)}};
  auto response = execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status != 204) return std::unexpected(status_error(call, *response));
  UploadStatus status;
  auto location = response->header("location");
  status.location = location ? http::resolve_url(call.url, *location) : session.location;
  auto range = response->header("range");
  auto end = range ? detail::range_end(*range) : std::nullopt;
  // NOTE: the reference registry reports "0-0" both for an empty session and
  // for one holding one byte; with no byte confirmed before, 0 is assumed.
  if (end && !(*end == 0 && confirmed == 0)) status.offset = *end + 1;
  return status;
}

Result<void> RegistryClient::Impl::upload_chunked(const UploadSession& session, const std::string& digest,
                                                  std::uint64_t size, const BlobSource& source, std::uint64_t chunk) {
  ChunkCursor cursor(source);
  UploadSession current = session;
  std::uint64_t offset = 0;
  int failures = 0;
  std::optional<RegistryError> failure;

  while (offset < size) {
    std::uint64_t length = std::min(chunk, size - offset);
    std::uint64_t chunk_start = offset;
    bool read_ok = true;
    BlobSource chunk_source = [&cursor, &read_ok, chunk_start, length]() {
      if (!cursor.seek(chunk_start)) {
        read_ok = false;
        return http::BodyReader([](char*, size_t) -> size_t { return SIZE_MAX; });
      }
      return cursor.limited(length);
    };
    Call call{.method = "PATCH",
              .url = current.location,
              .repository = current.repository,
              .scopes = {push_scope(current.repository)},
              .headers = {{"Content-Type", "application/octet-stream"},
                          {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + length - 1)}},
              .body = {},
              .source = &chunk_source,
              .size = length,
              .max_attempts = 1};
    auto response = execute(call);
    if (!read_ok) {
      RegistryError error;
      error.method = call.method;
      error.url = detail::url_without_query(call.url);
      error.message = "reading the blob " + digest + " for the upload to " + options.host + " failed";
      cancel(current);
      return std::unexpected(error);
    }
    if (response && response->status == 202) {
      if (auto location = response->header("location")) current.location = http::resolve_url(call.url, *location);
      auto range = response->header("range");
      auto end = range ? detail::range_end(*range) : std::nullopt;
      offset = end ? *end + 1 : offset + length;
      failures = 0;
      continue;
    }

    // After a dropped connection or a 416, the upload status request returns
    // the offset and Location to continue from.
    RegistryError error = response ? status_error(call, *response) : response.error();
    Call retry_policy = call;
    retry_policy.max_attempts = 0;
    bool resumable = response ? (response->status == 416 || is_retryable_status(response->status))
                              : response.error().retryable;
    if (resumable) {
      Result<http::Response> as_retryable = response;
      if (response && response->status == 416) {
        // 416 is not retryable as such, but resuming at the reported offset is.
        as_retryable = std::unexpected(transport_error(call, http::TransportError{"the registry rejected the "
                                                                                   "chunk range (HTTP 416)",
                                                                                   true, false}));
      }
      if (retry_after_failure(retry_policy, ++failures, as_retryable)) {
        auto status = upload_status(current, offset);
        if (status) {
          current.location = status->location;
          offset = status->offset;
          continue;
        }
        spdlog::debug("the upload session {} cannot be resumed ({}); starting a new one",
                      detail::url_without_query(current.location), status.error().str());
        cancel(current);
        Call start{.method = "POST", .url = v2_url(current.repository + "/blobs/uploads/"),
                   .repository = current.repository, .scopes = {push_scope(current.repository)}};
        auto opened = execute(start);
        if (!opened) return std::unexpected(opened.error());
        auto location = opened->header("location");
        if (opened->status != 202 || !location) return std::unexpected(status_error(start, *opened));
        current.location = http::resolve_url(start.url, *location);
        offset = 0;
        continue;
      }
    }
    failure = error;
    break;
  }

  if (failure) {
    cancel(current);
    return std::unexpected(*failure);
  }
  auto finished = finish_upload(current, current.location, digest, 0);
  if (!finished) cancel(current);
  return finished;
}

Result<std::string> RegistryClient::put_manifest(const std::string& repository, const std::string& reference,
                                                 const std::string& media_type, const std::string& bytes) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  Call call{.method = "PUT",
            .url = impl_->v2_url(repository + "/manifests/" + reference),
            .repository = repository,
            .scopes = {push_scope(repository)},
            .headers = {{"Content-Type", media_type}},
            .body = bytes,
            .timeout = kManifestTimeout};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status != 201) return std::unexpected(impl_->status_error(call, *response));
  std::string local = oci::sha256_digest(bytes);
  auto reported = response->header("docker-content-digest");
  if (!reported || reported->empty()) return local;
  if (*reported != local) {
    RegistryError error = impl_->status_error(call, *response);
    error.message = impl_->options.host + "/" + repository + ":" + reference + " reported the digest " + *reported +
                    " for a manifest whose bytes hash to " + local + ": the registry changed the manifest";
    return std::unexpected(error);
  }
  return *reported;
}

Result<ManifestData> RegistryClient::get_manifest(const std::string& repository, const std::string& reference) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  Call call{.method = "GET",
            .url = impl_->v2_url(repository + "/manifests/" + reference),
            .repository = repository,
            .scopes = {push_scope(repository)},
            .headers = {{"Accept", kManifestAccept}},
            .timeout = kManifestTimeout};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) {
    RegistryError error = impl_->status_error(call, *response);
    if (response->status == 404) {
      error.message = "the manifest " + impl_->options.host + "/" + repository +
                      (reference.starts_with("sha256:") ? "@" : ":") + reference + " was not found";
      if (error.codes.empty()) error.codes.push_back("MANIFEST_UNKNOWN");
    }
    return std::unexpected(error);
  }
  ManifestData data{media_type_of(*response), oci::sha256_digest(response->body), std::move(response->body)};
  if (reference.starts_with("sha256:") && data.digest != reference) {
    RegistryError error = impl_->status_error(call, *response);
    error.message = impl_->options.host + "/" + repository + "@" + reference +
                    " returned a manifest whose bytes hash to " + data.digest;
    return std::unexpected(error);
  }
  return data;
}

Result<std::optional<std::string>> RegistryClient::head_manifest(const std::string& repository,
                                                                 const std::string& reference) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  Call call{.method = "HEAD",
            .url = impl_->v2_url(repository + "/manifests/" + reference),
            .repository = repository,
            .scopes = {push_scope(repository)},
            .headers = {{"Accept", kManifestAccept}}};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status == 404) return std::optional<std::string>();
  if (response->status != 200) return std::unexpected(impl_->status_error(call, *response));
  auto digest = response->header("docker-content-digest");
  if (digest && !digest->empty()) return std::optional<std::string>(*digest);
  // Old registries may omit the header: hash the manifest instead.
  auto manifest = get_manifest(repository, reference);
  if (!manifest) return std::unexpected(manifest.error());
  return std::optional<std::string>(manifest->digest);
}

Result<void> RegistryClient::get_blob(const std::string& repository, const std::string& digest, std::uint64_t size,
                                      const http::BodySink& sink) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  oci::Sha256 hasher;
  std::uint64_t received = 0;   // bytes passed to `sink` and the hasher
  std::uint64_t skip = 0;       // bytes of the current response already received before
  bool too_long = false;
  http::BodySink counting = [&](const char* data, size_t length) {
    size_t start = static_cast<size_t>(std::min<std::uint64_t>(skip, length));
    skip -= start;
    data += start;
    length -= start;
    if (length == 0) return true;
    if (received + length > size) {
      too_long = true;
      return false;
    }
    hasher.update(data, length);
    received += length;
    return sink(data, length);
  };

  for (int attempt = 1;; ++attempt) {
    Call call{.method = "GET",
              .url = impl_->v2_url(repository + "/blobs/" + digest),
              .repository = repository,
              .scopes = {pull_scope(repository)},
              .max_attempts = 1,
              .sink = &counting};
    std::uint64_t resume_at = received;
    if (resume_at > 0) call.headers.emplace_back("Range", "bytes=" + std::to_string(resume_at) + "-");
    // A server that ignores Range sends the whole blob again with 200.
    call.on_body_start = [&skip, resume_at](long status) { skip = status == 206 ? 0 : resume_at; };
    auto response = impl_->execute(call);
    if (too_long) {
      RegistryError error;
      error.method = call.method;
      error.url = detail::url_without_query(call.url);
      error.message = impl_->options.host + "/" + repository + "@" + digest + " sent more than the " +
                      std::to_string(size) + " bytes its descriptor lists";
      return std::unexpected(error);
    }
    if (response && (response->status == 200 || response->status == 206) && received == size) break;
    if (response && response->status != 200 && response->status != 206) {
      RegistryError error = impl_->status_error(call, *response);
      if (response->status == 404) {
        error.message = "the blob " + impl_->options.host + "/" + repository + "@" + digest + " was not found";
      }
      Call policy = call;
      policy.max_attempts = 0;
      if (!impl_->retry_after_failure(policy, attempt, response)) return std::unexpected(error);
      continue;
    }
    // A transport error, or a body shorter than the descriptor's size.
    Result<http::Response> failed = response;
    if (response) {
      failed = std::unexpected(impl_->transport_error(
          call, http::TransportError{"the body ended after " + std::to_string(received) + " of " +
                                         std::to_string(size) + " bytes",
                                     true, false}));
    }
    Call policy = call;
    policy.max_attempts = 0;
    if (!impl_->retry_after_failure(policy, attempt, failed)) return std::unexpected(failed.error());
  }

  std::string actual = hasher.finish();
  if (actual != digest) {
    RegistryError error;
    error.method = "GET";
    error.url = impl_->v2_url(repository + "/blobs/" + digest);
    error.message = impl_->options.host + "/" + repository + "@" + digest + " sent a blob whose bytes hash to " +
                    actual + ": the registry's copy is corrupt";
    return std::unexpected(error);
  }
  return {};
}

Result<std::vector<std::string>> RegistryClient::list_tags(const std::string& repository) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  std::vector<std::string> tags;
  std::string url = impl_->v2_url(repository + "/tags/list?n=1000");
  while (true) {
    Call call{.method = "GET", .url = url, .repository = repository, .scopes = {pull_scope(repository)}};
    auto response = impl_->execute(call);
    if (!response) return std::unexpected(response.error());
    if (response->status != 200) return std::unexpected(impl_->status_error(call, *response));
    auto json = nlohmann::json::parse(response->body, nullptr, false);
    auto list = json.is_object() ? json.find("tags") : json.end();
    if (json.is_discarded() || !json.is_object() || (list != json.end() && !list->is_array() && !list->is_null())) {
      RegistryError error = impl_->status_error(call, *response);
      error.message = impl_->options.host + "/" + repository + " returned a tag list that is not valid JSON";
      return std::unexpected(error);
    }
    if (list != json.end() && list->is_array()) {
      for (const auto& tag : *list) {
        if (tag.is_string()) tags.push_back(tag.get<std::string>());
      }
    }
    auto next = detail::next_link(*response, url);
    if (!next || *next == url || !impl_->is_registry_url(*next)) break;
    url = *next;
  }
  // distribution 2.8 returns a page in storage order when `n` is given.
  std::sort(tags.begin(), tags.end());
  return tags;
}

Result<std::optional<std::vector<oci::Descriptor>>> RegistryClient::referrers_api(const std::string& repository,
                                                                                 const std::string& digest) {
  if (auto ready = impl_->ensure_ready(); !ready) return std::unexpected(ready.error());
  std::vector<oci::Descriptor> manifests;
  std::string url = impl_->v2_url(repository + "/referrers/" + digest);
  while (true) {
    Call call{.method = "GET",
              .url = url,
              .repository = repository,
              .scopes = {pull_scope(repository)},
              .headers = {{"Accept", std::string(oci::media_type::kOciIndex)}}};
    auto response = impl_->execute(call);
    if (!response) return std::unexpected(response.error());
    // A registry with the API returns an empty list for an unknown subject,
    // so 404 means the API is missing.
    if (response->status == 404 && manifests.empty()) return std::optional<std::vector<oci::Descriptor>>();
    if (response->status != 200) return std::unexpected(impl_->status_error(call, *response));
    auto index = oci::parse_index(response->body);
    if (!index) {
      RegistryError error = impl_->status_error(call, *response);
      error.message = impl_->options.host + "/" + repository + " returned an invalid referrers index for " + digest +
                      ": " + index.error();
      return std::unexpected(error);
    }
    manifests.insert(manifests.end(), index->manifests.begin(), index->manifests.end());
    auto next = detail::next_link(*response, url);
    if (!next || *next == url || !impl_->is_registry_url(*next)) break;
    url = *next;
  }
  return std::optional<std::vector<oci::Descriptor>>(std::move(manifests));
}

Result<Referrers> RegistryClient::referrers(const std::string& repository, const std::string& digest) {
  auto listed = referrers_api(repository, digest);
  if (!listed) return std::unexpected(listed.error());
  if (listed->has_value()) return Referrers{true, std::move(**listed)};

  auto fallback = get_manifest(repository, referrers_tag(digest));
  if (!fallback) {
    if (fallback.error().status == 404) return Referrers{false, {}};
    return std::unexpected(fallback.error());
  }
  auto index = oci::parse_index(fallback->bytes);
  if (!index) {
    RegistryError error;
    error.method = "GET";
    error.url = impl_->v2_url(repository + "/manifests/" + referrers_tag(digest));
    error.message = impl_->options.host + "/" + repository + ":" + referrers_tag(digest) +
                    " is not a valid referrers index: " + index.error();
    return std::unexpected(error);
  }
  return Referrers{false, std::move(index->manifests)};
}

Result<void> RegistryClient::add_to_referrers_tag(const std::string& repository, const std::string& subject_digest,
                                                  const oci::Descriptor& referrer) {
  const std::string tag = referrers_tag(subject_digest);
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", oci::media_type::kOciIndex},
                          {"manifests", nlohmann::json::array()}};
  auto existing = get_manifest(repository, tag);
  if (existing) {
    auto parsed = nlohmann::json::parse(existing->bytes, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("manifests") || !parsed["manifests"].is_array()) {
      RegistryError error;
      error.method = "GET";
      error.url = impl_->v2_url(repository + "/manifests/" + tag);
      error.message = impl_->options.host + "/" + repository + ":" + tag +
                      " is not an image index: delete the tag so that the referrers index can be written";
      return std::unexpected(error);
    }
    for (const auto& entry : parsed["manifests"]) {
      if (entry.is_object() && entry.value("digest", "") == referrer.digest) return {};
    }
    index = std::move(parsed);
  } else if (existing.error().status != 404) {
    return std::unexpected(existing.error());
  }
  index["manifests"].push_back(descriptor_json(referrer));
  // The new index is serialised once; those bytes are what is pushed.
  // NOTE: two clients updating the same tag at once may lose an entry,
  // because no If-Match guard is sent.
  std::string bytes = index.dump();
  auto pushed = put_manifest(repository, tag, std::string(oci::media_type::kOciIndex), bytes);
  if (!pushed) return std::unexpected(pushed.error());
  return {};
}

std::string referrers_tag(const std::string& digest) {
  size_t colon = digest.find(':');
  std::string algorithm = digest.substr(0, std::min<size_t>(colon, 32));
  std::string encoded = colon == std::string::npos ? std::string() : digest.substr(colon + 1, 64);
  std::string tag = algorithm + "-" + encoded;
  for (char& c : tag) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '.' || c == '-';
    if (!allowed) c = '-';
  }
  return tag;
}

std::expected<oci::Descriptor, std::string> referrer_descriptor(const std::string& media_type,
                                                                const std::string& bytes) {
  oci::Descriptor descriptor;
  descriptor.media_type = media_type;
  descriptor.digest = oci::sha256_digest(bytes);
  descriptor.size = bytes.size();
  if (oci::is_index_media_type(media_type)) {
    auto index = oci::parse_index(bytes);
    if (!index) return std::unexpected(index.error());
    descriptor.artifact_type = index->artifact_type;
    descriptor.annotations = index->annotations;
    return descriptor;
  }
  auto manifest = oci::parse_manifest(bytes);
  if (!manifest) return std::unexpected(manifest.error());
  descriptor.artifact_type = manifest->artifact_type.empty() ? manifest->config.media_type : manifest->artifact_type;
  descriptor.annotations = manifest->annotations;
  return descriptor;
}

}  // namespace multipush::registry
