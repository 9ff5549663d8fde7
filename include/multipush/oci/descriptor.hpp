#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

// Media types, platforms and content descriptors of the OCI image spec.
namespace multipush::oci {

namespace media_type {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kInToto = "application/vnd.in-toto+json";
}  // namespace media_type

// Annotation keys this tool reads.
namespace annotation {
inline constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kContainerdImageName = "io.containerd.image.name";
inline constexpr std::string_view kReferenceType = "vnd.docker.reference.type";
inline constexpr std::string_view kReferenceDigest = "vnd.docker.reference.digest";
inline constexpr std::string_view kAttestationManifest = "attestation-manifest";
// containerd's record of where a blob already lives: the key ends with a
// registry host, the value lists repositories on it, separated by commas.
inline constexpr std::string_view kDistributionSourcePrefix = "containerd.io/distribution.source.";
}  // namespace annotation

// True for the OCI index and the Docker manifest list.
bool is_index_media_type(std::string_view media_type);
// True for the OCI image manifest and the Docker schema 2 manifest.
bool is_manifest_media_type(std::string_view media_type);

// Target platform of an image. Comparison uses the normalised form, so
// linux/arm64 equals linux/arm64/v8 and linux/amd64 equals linux/amd64/v1.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;

  // Parses "os/arch[/variant]", such as "linux/arm64/v8".
  static std::expected<Platform, std::string> parse(std::string_view text);

  // "os/arch[/variant]" of the normalised form.
  std::string str() const;
  // Copy with the default variant removed (arm64 v8, amd64 v1) or added (arm v7).
  Platform normalized() const;
  // True for the "unknown/unknown" platform that BuildKit gives attestation manifests.
  bool is_unknown() const;

  friend bool operator==(const Platform& a, const Platform& b);
};

// A content descriptor: what a manifest or index points to.
struct Descriptor {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::string artifact_type;
  std::vector<std::string> urls;

  // Returns the annotation's value, or an empty string when it is absent.
  std::string annotation(std::string_view key) const;
  // True for a BuildKit attestation manifest entry: platform unknown/unknown
  // or the annotation vnd.docker.reference.type=attestation-manifest.
  bool is_attestation() const;
};

// Returns the repositories that the distribution-source annotation of
// `descriptor` names for registry `host`, in the order listed. Docker Hub's
// names (docker.io, registry-1.docker.io, index.docker.io) match each other;
// other hosts match only themselves, ignoring case. Entries that are not
// valid repository names are left out.
std::vector<std::string> distribution_sources(const Descriptor& descriptor, std::string_view host);

// Parses one descriptor object. The message names the missing or invalid field.
std::expected<Descriptor, std::string> parse_descriptor(const nlohmann::json& object);

}  // namespace multipush::oci
