#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// A small HTTP client over libcurl. libcurl itself stays in the .cpp file.
namespace multipush::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Reads up to `size` bytes of a request body into `buffer`; returns the count,
// 0 at the end. Returning SIZE_MAX aborts the transfer.
using BodyReader = std::function<size_t(char* buffer, size_t size)>;
// Receives response body bytes as they arrive; returning false aborts.
using BodySink = std::function<bool(const char* data, size_t size)>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;                     // used when body_reader is empty
  BodyReader body_reader;               // streamed body of body_size bytes
  std::optional<std::uint64_t> body_size;
  // When set, the body of a 2xx response goes here instead of Response::body;
  // bodies of other responses (errors, redirects) are still kept.
  BodySink body_sink;
  // Called with the status before the first byte of a 2xx body reaches
  // `body_sink`, once per response that has a body.
  std::function<void(long status)> on_body_start;
  bool follow_redirects = false;        // Authorization is dropped on a host change
  std::chrono::seconds timeout{0};      // 0: no overall limit
  // When the flag becomes true, the transfer stops within about a second,
  // even while the server reads or sends nothing.
  const std::atomic<bool>* cancel = nullptr;
};

struct Response {
  long status = 0;
  Headers headers;                      // names in lower case, in arrival order
  std::string body;
  std::string effective_url;            // after redirects

  // Returns the first header with this lower-case name.
  std::optional<std::string> header(const std::string& name) const;
  // Returns every header with this lower-case name, in order.
  std::vector<std::string> header_values(const std::string& name) const;
};

struct TransportError {
  std::string message;                  // never contains credentials
  bool retryable = true;                // connection errors and timeouts are
  bool tls = false;                     // certificate or handshake failure
  // The connection was open when sending or receiving failed (such as a
  // server that closes it after the TLS handshake).
  bool after_connect = false;
  bool cancelled = false;               // stopped because Request::cancel was set
};

// TLS and connection settings for one registry host.
struct TlsOptions {
  bool verify_peer = true;
  std::vector<std::filesystem::path> ca_files;       // added to the system roots
  std::optional<std::filesystem::path> client_cert;  // PEM
  std::optional<std::filesystem::path> client_key;   // PEM
};

class Client {
 public:
  explicit Client(TlsOptions tls = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request. An HTTP error status is a Response, not an error.
  std::expected<Response, TransportError> send(const Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a string for use in a URL query value.
std::string url_encode(const std::string& value);

// Resolves a possibly relative URL (such as a Location header) against the
// URL of the request it answered (RFC 3986).
std::string resolve_url(const std::string& base, const std::string& reference);

}  // namespace multipush::http
