#include "multipush/util/http.hpp"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>

#include "multipush/util/env.hpp"

namespace multipush::http {
namespace {

constexpr int kMaxRedirects = 10;

std::string to_lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

std::string trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

// The parts of a URI as RFC 3986 section 3 splits them. `has_*` distinguishes an
// empty component ("http://h/?") from an absent one.
struct UriParts {
  std::string scheme;
  bool has_authority = false;
  std::string authority;
  std::string path;
  bool has_query = false;
  std::string query;
  bool has_fragment = false;
  std::string fragment;
};

UriParts split_uri(std::string_view text) {
  UriParts parts;
  size_t colon = text.find(':');
  size_t first_delimiter = text.find_first_of("/?#");
  if (colon != std::string_view::npos && colon > 0 &&
      (first_delimiter == std::string_view::npos || colon < first_delimiter) &&
      std::isalpha(static_cast<unsigned char>(text[0]))) {
    parts.scheme = std::string(text.substr(0, colon));
    text.remove_prefix(colon + 1);
  }
  if (text.starts_with("//")) {
    text.remove_prefix(2);
    size_t end = text.find_first_of("/?#");
    parts.has_authority = true;
    parts.authority = std::string(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  size_t hash = text.find('#');
  if (hash != std::string_view::npos) {
    parts.has_fragment = true;
    parts.fragment = std::string(text.substr(hash + 1));
    text = text.substr(0, hash);
  }
  size_t question = text.find('?');
  if (question != std::string_view::npos) {
    parts.has_query = true;
    parts.query = std::string(text.substr(question + 1));
    text = text.substr(0, question);
  }
  parts.path = std::string(text);
  return parts;
}

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string input) {
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) {
      input.erase(0, 3);
    } else if (input.starts_with("./")) {
      input.erase(0, 2);
    } else if (input.starts_with("/./")) {
      input.erase(0, 2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.starts_with("/../") || input == "/..") {
      input = input.size() == 3 ? "/" : input.substr(3);
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input.clear();
    } else {
      size_t next = input.find('/', input[0] == '/' ? 1 : 0);
      output += input.substr(0, next);
      input.erase(0, next == std::string::npos ? input.size() : next);
    }
  }
  return output;
}

// RFC 3986 section 5.2.3.
std::string merge_paths(const UriParts& base, const std::string& reference_path) {
  if (base.has_authority && base.path.empty()) return "/" + reference_path;
  size_t last = base.path.rfind('/');
  if (last == std::string::npos) return reference_path;
  return base.path.substr(0, last + 1) + reference_path;
}

std::string join_uri(const UriParts& parts) {
  std::string result;
  if (!parts.scheme.empty()) result += parts.scheme + ":";
  if (parts.has_authority) result += "//" + parts.authority;
  result += parts.path;
  if (parts.has_query) result += "?" + parts.query;
  if (parts.has_fragment) result += "#" + parts.fragment;
  return result;
}

// Scheme, host and port of a URL in lower case, with the default port filled
// in, so that two URLs of the same origin compare equal.
std::string origin_of(const std::string& url) {
  UriParts parts = split_uri(url);
  std::string scheme = to_lower(parts.scheme);
  std::string authority = parts.authority;
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority.erase(0, at + 1);
  authority = to_lower(authority);
  bool has_port = false;
  size_t bracket = authority.rfind(']');
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) has_port = true;
  if (!has_port) authority += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + authority;
}

// Host name of a URL without brackets, user info or port.
std::string host_of(const std::string& url) {
  std::string authority = split_uri(url).authority;
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority.erase(0, at + 1);
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    return to_lower(authority.substr(1, close == std::string::npos ? std::string::npos : close - 1));
  }
  return to_lower(authority.substr(0, authority.find(':')));
}

// The URL without user info and query, for error messages: upload URLs carry
// long state tokens and token URLs carry account names.
std::string url_for_message(const std::string& url) {
  UriParts parts = split_uri(url);
  size_t at = parts.authority.rfind('@');
  if (at != std::string::npos) parts.authority.erase(0, at + 1);
  parts.has_query = false;
  parts.has_fragment = false;
  return join_uri(parts);
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::optional<std::string> first_env(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto value = util::get_env(name);
    if (value && !value->empty()) return value;
  }
  return std::nullopt;
}

// Reads the proxy for `url` from the environment in both spellings, as Go
// programs (docker, buildx) do; libcurl alone ignores HTTP_PROXY. Loopback
// hosts are never proxied, also as in Go's net/http.
std::optional<std::string> proxy_for(const std::string& url) {
  if (is_loopback_host(host_of(url))) return std::nullopt;
  if (to_lower(split_uri(url).scheme) == "https") {
    return first_env({"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"});
  }
  return first_env({"HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"});
}

std::once_flag curl_global_once;

size_t write_body(char* data, size_t size, size_t count, void* user);
size_t write_header(char* data, size_t size, size_t count, void* user);
size_t read_body(char* buffer, size_t size, size_t count, void* user);

// State of one transfer, reached from the libcurl callbacks.
struct Transfer {
  const Request* request = nullptr;
  CURL* handle = nullptr;
  int body_target = 0;  // 0: not decided yet, 1: the sink, 2: Response::body
  Response response;
  BodyReader reader;
  size_t string_offset = 0;
  bool sink_aborted = false;
  bool reader_aborted = false;
};

bool cancel_set(const Request& request) { return request.cancel != nullptr && request.cancel->load(); }

// Stops the transfer once the request's cancel flag is set. libcurl calls
// this about once a second even when no data moves.
int check_cancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return cancel_set(*static_cast<Transfer*>(user)->request) ? 1 : 0;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->body_target == 0) {
    // Only a successful response's body is the content the caller streams;
    // a redirect or error body is kept for the error message instead.
    long status = 0;
    curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
    bool to_sink = transfer->request->body_sink && status >= 200 && status < 300;
    transfer->body_target = to_sink ? 1 : 2;
    if (to_sink && transfer->request->on_body_start) transfer->request->on_body_start(status);
  }
  if (transfer->body_target == 1) {
    if (!transfer->request->body_sink(data, bytes)) {
      transfer->sink_aborted = true;
      return 0;
    }
    return bytes;
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t write_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  std::string_view line(data, bytes);
  // A new status line starts a new response (after 100 Continue or a proxy
  // CONNECT), whose headers replace the earlier ones.
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();
    transfer->body_target = 0;
    return bytes;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  transfer->response.headers.emplace_back(to_lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  return bytes;
}

size_t read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t capacity = size * count;
  if (cancel_set(*transfer->request)) return CURL_READFUNC_ABORT;
  if (transfer->reader) {
    size_t produced = transfer->reader(buffer, capacity);
    if (produced == SIZE_MAX) {
      transfer->reader_aborted = true;
      return CURL_READFUNC_ABORT;
    }
    return produced;
  }
  const std::string& body = transfer->request->body;
  size_t produced = std::min(capacity, body.size() - transfer->string_offset);
  std::copy_n(body.data() + transfer->string_offset, produced, buffer);
  transfer->string_offset += produced;
  return produced;
}

bool is_tls_error(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

bool is_retryable_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    // A reused connection dropped during a streamed upload: libcurl cannot
    // rewind the body itself, but the caller can send it again.
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;

// Builds the trust store of one client: OpenSSL's default roots (the system
// bundle, or SSL_CERT_FILE and SSL_CERT_DIR when set) plus `ca_files`.
// libcurl parses its CA file again for every TLS connection. Each parse of
// the system bundle costs milliseconds of CPU and about a megabyte, so the
// client parses it once and shares the store.
StorePtr make_trust_store(const std::vector<std::filesystem::path>& ca_files) {
  StorePtr store(X509_STORE_new(), &X509_STORE_free);
  if (!store) return store;
  X509_STORE_set_default_paths(store.get());
  for (const auto& file : ca_files) {
    // A file that does not parse adds nothing. The handshake then fails
    // with a certificate error that names the host.
    X509_STORE_load_file(store.get(), file.c_str());
  }
  // libcurl accepts a chain that ends at any trusted certificate, not only
  // at a self-signed root (CURLSSLOPT_NO_PARTIALCHAIN turns that off).
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return store;
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

std::optional<std::string> Response::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::vector<std::string> Response::header_values(const std::string& name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

struct Client::Impl {
  TlsOptions tls;
  std::once_flag store_once;
  StorePtr store{nullptr, &X509_STORE_free};  // built at the first TLS handshake
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  // Idle easy handles, reused so that a request costs no handle set-up.
  std::mutex idle_mutex;
  std::vector<CURL*> idle;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[data].unlock();
  }

  std::expected<Response, TransportError> perform(const Request& request, const std::string& url,
                                                   const std::string& method, bool send_body,
                                                   bool drop_authorization);
  void apply_tls(CURL* handle);
  CURL* acquire();
  void release(CURL* handle);

  // Gives each new TLS context the shared store (CURLOPT_SSL_CTX_FUNCTION).
  static CURLcode install_store(CURL*, void* ssl_ctx, void* user) {
    auto* self = static_cast<Impl*>(user);
    std::call_once(self->store_once, [self] { self->store = make_trust_store(self->tls.ca_files); });
    if (!self->store) return CURLE_OUT_OF_MEMORY;
    SSL_CTX_set1_cert_store(static_cast<SSL_CTX*>(ssl_ctx), self->store.get());
    return CURLE_OK;
  }
};

CURL* Client::Impl::acquire() {
  {
    std::lock_guard lock(idle_mutex);
    if (!idle.empty()) {
      CURL* handle = idle.back();
      idle.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void Client::Impl::release(CURL* handle) {
  curl_easy_reset(handle);
  std::lock_guard lock(idle_mutex);
  idle.push_back(handle);
}

Client::Client(TlsOptions tls) : impl_(std::make_unique<Impl>()) {
  std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->tls = std::move(tls);
  impl_->share = curl_share_init();
  curl_share_setopt(impl_->share, CURLSHOPT_LOCKFUNC, &Impl::lock);
  curl_share_setopt(impl_->share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
  curl_share_setopt(impl_->share, CURLSHOPT_USERDATA, impl_.get());
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

Client::~Client() {
  if (!impl_) return;
  for (CURL* handle : impl_->idle) curl_easy_cleanup(handle);
  if (impl_->share != nullptr) curl_share_cleanup(impl_->share);
}

void Client::Impl::apply_tls(CURL* handle) {
  if (!tls.verify_peer) {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    // libcurl loads no CA file because install_store gives every TLS
    // context the client's parsed store.
    curl_easy_setopt(handle, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
    curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, &Impl::install_store);
    curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA, this);
  }
  if (tls.client_cert) curl_easy_setopt(handle, CURLOPT_SSLCERT, tls.client_cert->c_str());
  if (tls.client_key) curl_easy_setopt(handle, CURLOPT_SSLKEY, tls.client_key->c_str());
}

std::expected<Response, TransportError> Client::Impl::perform(const Request& request, const std::string& url,
                                                               const std::string& method, bool send_body,
                                                               bool drop_authorization) {
  if (cancel_set(request)) {
    TransportError error{method + " " + url_for_message(url) + " stopped: the run was interrupted", false, false};
    error.cancelled = true;
    return std::unexpected(error);
  }
  auto release_handle = [this](CURL* handle) { release(handle); };
  std::unique_ptr<CURL, decltype(release_handle)> handle(acquire(), release_handle);
  if (!handle) return std::unexpected(TransportError{"cannot create a libcurl handle", false, false});
  CURL* curl = handle.get();
  Transfer transfer;
  transfer.request = &request;
  transfer.handle = curl;
  if (send_body && request.body_reader) transfer.reader = request.body_reader;

  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_SHARE, share);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled connection (under 1 byte/s for a minute) fails instead of
  // hanging an upload forever.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  if (request.timeout.count() > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  if (request.cancel != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &check_cancel);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  }

  // An empty proxy string turns off libcurl's own reading of the
  // environment, so the choice made by proxy_for() is the only one.
  auto proxy = proxy_for(url);
  curl_easy_setopt(curl, CURLOPT_PROXY, proxy ? proxy->c_str() : "");
  auto no_proxy = first_env({"NO_PROXY", "no_proxy"});
  if (proxy && no_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy->c_str());
  apply_tls(curl);

  bool has_body = send_body && (request.body_reader || !request.body.empty() || method == "PUT" ||
                                method == "POST" || method == "PATCH");
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    // CURLOPT_UPLOAD sends the read callback's bytes with an explicit
    // Content-Length and, unlike CURLOPT_POSTFIELDS, no form Content-Type.
    std::uint64_t size = request.body_reader ? request.body_size.value_or(0) : request.body.size();
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    if (request.body_reader) {
      // Streamed bodies (blob uploads) use HTTP/1.1 because libcurl 7.88
      // polls in a tight loop while an HTTP/2 stream waits for the server's
      // flow-control window. That tripled the CPU time of a push.
      curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    }
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    if (drop_authorization && to_lower(name) == "authorization") continue;
    std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, &curl_slist_free_all);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer.data()) : curl_easy_strerror(code);
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    TransportError error;
    error.message = method + " " + url_for_message(url) + " failed: " + detail;
    error.tls = is_tls_error(code);
    error.after_connect = code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING;
    error.retryable = !error.tls && !transfer.sink_aborted && !transfer.reader_aborted && is_retryable_error(code);
    if (transfer.reader_aborted) error.message = method + " " + url_for_message(url) + " failed: reading the request body failed";
    if (cancel_set(request)) {
      error.message = method + " " + url_for_message(url) + " stopped: the run was interrupted";
      error.retryable = false;
      error.cancelled = true;
    }
    return std::unexpected(error);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  transfer.response.effective_url = url;
  return std::move(transfer.response);
}

std::expected<Response, TransportError> Client::send(const Request& request) {
  std::string url = request.url;
  std::string method = request.method;
  bool send_body = true;
  bool drop_authorization = false;
  const std::string first_origin = origin_of(url);

  for (int redirects = 0;; ++redirects) {
    auto response = impl_->perform(request, url, method, send_body, drop_authorization);
    if (!response || !request.follow_redirects || !is_redirect(response->status)) return response;
    auto location = response->header("location");
    if (!location) return response;
    if (redirects == kMaxRedirects) {
      return std::unexpected(TransportError{
          method + " " + url_for_message(request.url) + " failed: more than " + std::to_string(kMaxRedirects) +
              " redirects",
          false, false});
    }
    if (response->status == 303 || ((response->status == 301 || response->status == 302) && method == "POST")) {
      method = method == "HEAD" ? "HEAD" : "GET";
      send_body = false;
    } else if (send_body && request.body_reader) {
      // NOTE: a streamed body cannot be read twice here; the caller gets the
      // redirect response and may resend with a fresh reader.
      return response;
    }
    url = resolve_url(url, *location);
    // Authorization stays with the origin it was meant for (scheme, host
    // and port), so a token never reaches a storage or CDN host.
    if (origin_of(url) != first_origin) drop_authorization = true;
  }
}

std::string url_encode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string result;
  result.reserve(value.size());
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      result.push_back(static_cast<char>(c));
    } else {
      result.push_back('%');
      result.push_back(kHex[c >> 4]);
      result.push_back(kHex[c & 0x0f]);
    }
  }
  return result;
}

std::string resolve_url(const std::string& base, const std::string& reference) {
  UriParts ref = split_uri(reference);
  UriParts base_parts = split_uri(base);
  UriParts target;
  if (!ref.scheme.empty()) {
    target = ref;
    target.path = remove_dot_segments(ref.path);
  } else {
    if (ref.has_authority) {
      target.has_authority = true;
      target.authority = ref.authority;
      target.path = remove_dot_segments(ref.path);
      target.has_query = ref.has_query;
      target.query = ref.query;
    } else {
      if (ref.path.empty()) {
        target.path = base_parts.path;
        target.has_query = ref.has_query || base_parts.has_query;
        target.query = ref.has_query ? ref.query : base_parts.query;
      } else {
        target.path = ref.path.starts_with("/") ? remove_dot_segments(ref.path)
                                                : remove_dot_segments(merge_paths(base_parts, ref.path));
        target.has_query = ref.has_query;
        target.query = ref.query;
      }
      target.has_authority = base_parts.has_authority;
      target.authority = base_parts.authority;
    }
    target.scheme = base_parts.scheme;
  }
  target.has_fragment = ref.has_fragment;
  target.fragment = ref.fragment;
  return join_uri(target);
}

}  // namespace multipush::http
