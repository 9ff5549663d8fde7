#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace multipush::ref {

inline constexpr std::string_view kDockerHub = "docker.io";
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";
inline constexpr std::string_view kDockerHubCredentialKey = "https://index.docker.io/v1/";

// A parsed, normalised image reference: `registry/repository[:tag][@digest]`.
// Docker Hub defaults (docker.io, library/) are applied by parse().
struct Reference {
  std::string registry;                 // host[:port]; "docker.io" for Docker Hub
  std::string repository;               // "library/alpine", "openim/openkf-server"
  std::optional<std::string> tag;       // absent when the text names none; parse() adds no "latest"
  std::optional<std::string> digest;    // "sha256:<64 hex>"

  // "registry/repository[:tag][@digest]"
  std::string str() const;
  // "registry/repository"
  std::string name() const;
  // Host that HTTP requests go to ("registry-1.docker.io" for Docker Hub).
  std::string api_host() const;
  // Key in the docker config and credential helpers ("https://index.docker.io/v1/" for Docker Hub).
  std::string credential_key() const;
  // True for localhost, 127.0.0.0/8 and [::1] registries.
  bool is_loopback() const;
};

// Parses and normalises a reference. Upper-case letters in the repository
// path are rejected unless `lower_case` is set, in which case they are
// lower-cased as docker/metadata-action does for image names. Returns a
// message naming the reference and what is wrong with it.
std::expected<Reference, std::string> parse(std::string_view text, bool lower_case = false);

// Returns true when `tag` matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
bool is_valid_tag(std::string_view tag);

// Returns true when `digest` is well-formed ("sha256:" + 64 lower-case hex, or
// another algorithm per the OCI grammar).
bool is_valid_digest(std::string_view digest);

// Registry host as written by a user: "docker.io", "index.docker.io" and
// "registry-1.docker.io" become "docker.io"; other hosts are lower-cased.
std::string normalize_registry_host(std::string_view host);

// Returns the key used for `host` in the docker config and credential helpers.
std::string credential_key_for_host(std::string_view host);

// Returns the host that HTTP requests for registry `host` go to
// ("registry-1.docker.io" for Docker Hub, `host` otherwise).
std::string api_host_for_host(std::string_view host);

// Returns true for "localhost", an address in 127.0.0.0/8 and "[::1]", each
// with or without a ":port".
bool is_loopback_host(std::string_view host);

// Returns true when `host` is a valid registry host: DNS labels or an IPv4
// address, or a bracketed IPv6 address, with an optional ":port" (1-65535).
bool is_valid_registry_host(std::string_view host);

// Returns true when `path` is a valid repository path: lower-case components
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by "/".
bool is_valid_repository(std::string_view path);

}  // namespace multipush::ref
