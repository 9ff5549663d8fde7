// Registry host names: validation, Docker Hub aliases, loopback detection.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>

#include "multipush/ref/reference.hpp"

namespace multipush::ref {

namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A DNS label: letters, digits and inner hyphens.
bool is_valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (!is_alnum(label.front()) || !is_alnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), is_digit)) return false;
  int value = 0;
  std::from_chars(port.data(), port.data() + port.size(), value);
  return value >= 1 && value <= 65535;
}

// Splits "host:port" or "[v6]:port" into the host part and the port (empty
// when there is none). Returns false when the brackets do not match.
bool split_port(std::string_view text, std::string_view& host, std::string_view& port) {
  port = {};
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(0, close + 1);
    auto rest = text.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    return !port.empty();
  }
  auto colon = text.find(':');
  host = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    port = text.substr(colon + 1);
    if (port.empty()) return false;
  }
  return true;
}

bool is_valid_ipv6_literal(std::string_view bracketed) {
  if (bracketed.size() < 4 || bracketed.front() != '[' || bracketed.back() != ']') return false;
  auto inner = bracketed.substr(1, bracketed.size() - 2);
  bool has_colon = false;
  for (char c : inner) {
    if (c == ':') {
      has_colon = true;
    } else if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.') {
      return false;
    }
  }
  return has_colon;
}

// Returns true for a dotted quad whose first octet is 127.
bool is_ipv4_loopback(std::string_view host) {
  int octets = 0;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    auto part = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit)) return false;
    int value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 255) return false;
    if (octets == 0 && value != 127) return false;
    ++octets;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return octets == 4;
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

}  // namespace

std::string normalize_registry_host(std::string_view host) {
  std::string lower = to_lower(host);
  if (lower == "index.docker.io" || lower == "registry-1.docker.io") return std::string(kDockerHub);
  return lower;
}

std::string credential_key_for_host(std::string_view host) {
  std::string normalized = normalize_registry_host(host);
  if (normalized == kDockerHub) return std::string(kDockerHubCredentialKey);
  return normalized;
}

std::string api_host_for_host(std::string_view host) {
  std::string normalized = normalize_registry_host(host);
  if (normalized == kDockerHub) return std::string(kDockerHubApiHost);
  return normalized;
}

bool is_loopback_host(std::string_view host) {
  std::string_view name;
  std::string_view port;
  if (!split_port(host, name, port)) return false;
  if (!port.empty() && !is_valid_port(port)) return false;
  std::string lower = to_lower(name);
  return lower == "localhost" || lower == "[::1]" || is_ipv4_loopback(lower);
}

bool is_valid_registry_host(std::string_view host) {
  std::string_view name;
  std::string_view port;
  if (!split_port(host, name, port)) return false;
  if (!port.empty() && !is_valid_port(port)) return false;
  if (!name.empty() && name.front() == '[') return is_valid_ipv6_literal(name);
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    auto dot = name.find('.', start);
    auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_valid_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace multipush::ref
