#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/registry/client.hpp"
#include "multipush/util/http.hpp"

// Helpers of RegistryClient that need no connection: certs.d loading, error
// bodies, and URL pieces.
namespace multipush::registry::detail {

// Reads `<certs_dir>/<host>/`: every *.crt is a CA added to the system roots,
// and <name>.cert with <name>.key is a client certificate. Throws UsageError
// for a .cert without its .key or a .key without its .cert.
http::TlsOptions load_certs_dir(const std::filesystem::path& certs_dir, const std::string& host, bool insecure);

// Returns the spec error codes and messages of a JSON error body
// ({"errors":[{"code":..., "message":...}]}); empty for other bodies.
struct SpecError {
  std::string code;
  std::string message;
};
std::vector<SpecError> parse_error_body(std::string_view body);

// True for "localhost", 127.0.0.0/8 and ::1, with or without a port.
bool is_loopback(std::string_view host);

// The host HTTP requests go to: "registry-1.docker.io" for Docker Hub.
std::string api_host(std::string_view host);

// The URL without its query and fragment, for messages.
std::string url_without_query(const std::string& url);

// Appends `name=value` (value percent-encoded) to a URL that may already
// have a query.
std::string append_query(const std::string& url, const std::string& name, const std::string& value);

// Returns the seconds of a Retry-After header in the delay-seconds form;
// -1 when absent or an HTTP date.
long retry_after_seconds(const http::Response& response);

// Returns the delay of a Retry-After header in either form: delay-seconds,
// or an HTTP date (IMF-fixdate, RFC 850 or asctime) measured from `now`.
// A date in the past gives 0; std::nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> retry_after(const http::Response& response,
                                                     std::chrono::system_clock::time_point now);

// Parses an HTTP date as RFC 9110 section 5.6.7 allows it.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

// Returns the last byte offset of an upload Range header ("0-1023" gives
// 1023); std::nullopt when malformed. A "bytes=" prefix is accepted.
std::optional<std::uint64_t> range_end(std::string_view value);

// Returns the target of the `rel="next"` entry of Link headers, resolved
// against `request_url`; std::nullopt when there is none.
std::optional<std::string> next_link(const http::Response& response, const std::string& request_url);

}  // namespace multipush::registry::detail
