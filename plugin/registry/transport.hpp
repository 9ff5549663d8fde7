#pragma once

#include <filesystem>
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

}  // namespace multipush::registry::detail
