#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/oci/descriptor.hpp"

// Image manifests and indexes, parsed for reading only. Digests are always
// computed over the original bytes, which callers keep next to the parsed
// value, because re-serialised JSON has a different digest.
namespace multipush::oci {

struct Manifest {
  std::string media_type;     // the document's mediaType field, possibly empty
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type;     // the document's mediaType field, possibly empty
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
};

// Parse an image manifest or an index. The error message names what is invalid.
std::expected<Manifest, std::string> parse_manifest(std::string_view bytes);
std::expected<Index, std::string> parse_index(std::string_view bytes);

// Returns the media type of a manifest or index document: its mediaType
// field, or, when that is absent, the OCI type its fields imply
// ("manifests" for an index, "config" for a manifest). Empty when neither.
std::string detect_media_type(std::string_view bytes);

}  // namespace multipush::oci
