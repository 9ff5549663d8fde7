#include "multipush/registry/client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "multipush/auth/challenge.hpp"
#include "multipush/auth/token.hpp"
#include "multipush/oci/digest.hpp"
#include "multipush/output/redact.hpp"
#include "transport.hpp"

namespace multipush::registry {
namespace {

constexpr int kMaxAttempts = 3;
constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr long kMaxRetryAfterSeconds = 60;
constexpr std::chrono::seconds kPingTimeout{30};
constexpr std::chrono::seconds kManifestTimeout{300};

constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

bool is_retryable_status(long status) { return status == 408 || status == 429 || status >= 500; }

std::string media_type_of(const http::Response& response) {
  std::string type = response.header("content-type").value_or("");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

std::string push_scope(const std::string& repository) { return "repository:" + repository + ":pull,push"; }

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
};

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
  http::Client http;
  auth::Authenticator authenticator;

  std::mutex ping_mutex;
  std::string scheme;                           // empty until the first ping succeeds
  std::vector<auth::Challenge> challenges;      // from GET /v2/, updated by later 401s

  std::mutex slots_mutex;
  std::condition_variable slots_free;
  int in_flight = 0;

  explicit Impl(Options opts)
      : options(std::move(opts)),
        api_host(detail::api_host(options.host)),
        http(detail::load_certs_dir(options.certs_dir, options.host, options.insecure)),
        authenticator(http, options.credentials) {}

  std::string base_url() const { return scheme + "://" + api_host; }
  std::string v2_url(const std::string& path) const { return base_url() + "/v2/" + path; }
  bool is_registry_url(const std::string& url) const { return url.starts_with(base_url() + "/"); }

  Result<void> ensure_ready();
  Result<http::Response> ping(const std::string& candidate_scheme);
  Result<http::Response> execute(const Call& call);
  Result<http::Response> send_once(const Call& call, bool renew);

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

  if (response.status == 401) {
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
                     " may not push to " + target + ": grant push (write) access to the account or token";
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
  if (call.source != nullptr) {
    request.body_reader = (*call.source)();
    request.body_size = call.size;
  }
  if (is_registry_url(call.url)) {
    auto authorization = authenticator.authorization(current_challenges(), call.scopes, renew);
    if (!authorization) return std::unexpected(auth_error(call, authorization.error()));
    if (!authorization->empty()) request.headers.emplace_back("Authorization", *authorization);
  }

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

Result<http::Response> RegistryClient::Impl::execute(const Call& call) {
  if (auto ready = ensure_ready(); !ready) return std::unexpected(ready.error());

  static thread_local std::mt19937 random{std::random_device{}()};
  bool renewed = false;
  for (int attempt = 1;; ++attempt) {
    auto response = send_once(call, renewed);
    std::chrono::milliseconds delay = kFirstBackoff * (1 << (attempt - 1));
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
    bool retryable = response ? is_retryable_status(response->status) : response.error().retryable;
    if (!retryable || attempt >= kMaxAttempts) return response;
    if (response) {
      long seconds = detail::retry_after_seconds(*response);
      if (seconds >= 0) delay = std::chrono::seconds(std::min(seconds, kMaxRetryAfterSeconds));
    }
    delay += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 250)(random));
    spdlog::debug("{} {} failed ({}), retrying in {} ms", call.method, detail::url_without_query(call.url),
                  response ? "HTTP " + std::to_string(response->status) : output::redact(response.error().message),
                  delay.count());
    std::this_thread::sleep_for(delay);
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
    return std::optional<UploadSession>(UploadSession{http::resolve_url(call.url, *location), repository});
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
  if (response->status == 202 && location) return UploadSession{http::resolve_url(call.url, *location), repository};
  RegistryError error = impl_->status_error(call, *response);
  if (response->status == 202) error.message = impl_->options.host + " opened an upload session without a Location header";
  return std::unexpected(error);
}

Result<void> RegistryClient::upload_blob(const UploadSession& session, const std::string& digest, std::uint64_t size,
                                         const BlobSource& source) {
  // NOTE: a 307/308 redirect of this PUT is returned as an error, because
  // the HTTP client does not resend a streamed body to the new location.
  Call call{.method = "PUT",
            .url = detail::append_query(session.location, "digest", digest),
            .repository = session.repository,
            .scopes = {push_scope(session.repository)},
            .headers = {{"Content-Type", "application/octet-stream"}},
            .body = {},
            .source = &source,
            .size = size};
  auto response = impl_->execute(call);
  if (!response) return std::unexpected(response.error());
  if (response->status != 201) return std::unexpected(impl_->status_error(call, *response));
  auto reported = response->header("docker-content-digest");
  if (reported && !reported->empty() && *reported != digest) {
    RegistryError error = impl_->status_error(call, *response);
    error.message = impl_->options.host + " stored the blob uploaded as " + digest + " under the digest " + *reported +
                    ": the blob source is corrupt or changed during the upload";
    return std::unexpected(error);
  }
  return {};
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

}  // namespace multipush::registry
