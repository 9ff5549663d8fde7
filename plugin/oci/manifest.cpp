#include "multipush/oci/manifest.hpp"

#include <nlohmann/json.hpp>

namespace multipush::oci {

namespace {

std::expected<nlohmann::json, std::string> parse_document(std::string_view bytes) {
  nlohmann::json document = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return std::unexpected("invalid JSON");
  }
  if (!document.is_object()) {
    return std::unexpected("the document is not a JSON object");
  }
  return document;
}

std::string string_field(const nlohmann::json& document, const char* key) {
  const auto found = document.find(key);
  return found != document.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::map<std::string, std::string> annotations_of(const nlohmann::json& document) {
  std::map<std::string, std::string> annotations;
  const auto found = document.find("annotations");
  if (found != document.end() && found->is_object()) {
    for (const auto& [key, value] : found->items()) {
      if (value.is_string()) {
        annotations.emplace(key, value.get<std::string>());
      }
    }
  }
  return annotations;
}

std::expected<std::optional<Descriptor>, std::string> subject_of(const nlohmann::json& document) {
  const auto found = document.find("subject");
  if (found == document.end() || found->is_null()) {
    return std::optional<Descriptor>();
  }
  auto subject = parse_descriptor(*found);
  if (!subject) {
    return std::unexpected("subject: " + subject.error());
  }
  return std::optional<Descriptor>(std::move(*subject));
}

std::expected<std::vector<Descriptor>, std::string> descriptor_list(const nlohmann::json& document,
                                                                     const char* key) {
  const auto found = document.find(key);
  if (found == document.end() || !found->is_array()) {
    return std::unexpected(std::string("field \"") + key + "\" is missing or not an array");
  }
  std::vector<Descriptor> descriptors;
  for (const auto& entry : *found) {
    auto descriptor = parse_descriptor(entry);
    if (!descriptor) {
      return std::unexpected(std::string(key) + "[" + std::to_string(descriptors.size()) +
                             "]: " + descriptor.error());
    }
    descriptors.push_back(std::move(*descriptor));
  }
  return descriptors;
}

std::expected<void, std::string> check_schema_version(const nlohmann::json& document) {
  const auto found = document.find("schemaVersion");
  if (found == document.end() || !found->is_number_integer() || found->get<int>() != 2) {
    return std::unexpected("\"schemaVersion\" is not 2 (schema 1 manifests are not supported)");
  }
  return {};
}

}  // namespace

std::expected<Manifest, std::string> parse_manifest(std::string_view bytes) {
  auto document = parse_document(bytes);
  if (!document) {
    return std::unexpected(document.error());
  }
  if (auto version = check_schema_version(*document); !version) {
    return std::unexpected(version.error());
  }
  Manifest manifest;
  manifest.media_type = string_field(*document, "mediaType");
  if (!manifest.media_type.empty() && !is_manifest_media_type(manifest.media_type)) {
    return std::unexpected("mediaType \"" + manifest.media_type + "\" is not an image manifest type");
  }

  const auto config = document->find("config");
  if (config == document->end()) {
    return std::unexpected("field \"config\" is missing");
  }
  auto config_descriptor = parse_descriptor(*config);
  if (!config_descriptor) {
    return std::unexpected("config: " + config_descriptor.error());
  }
  manifest.config = std::move(*config_descriptor);
  auto layers = descriptor_list(*document, "layers");
  if (!layers) {
    return std::unexpected(layers.error());
  }
  manifest.layers = std::move(*layers);
  auto subject = subject_of(*document);
  if (!subject) {
    return std::unexpected(subject.error());
  }
  manifest.subject = std::move(*subject);
  manifest.artifact_type = string_field(*document, "artifactType");
  manifest.annotations = annotations_of(*document);
  return manifest;
}

std::expected<Index, std::string> parse_index(std::string_view bytes) {
  auto document = parse_document(bytes);
  if (!document) {
    return std::unexpected(document.error());
  }
  if (auto version = check_schema_version(*document); !version) {
    return std::unexpected(version.error());
  }
  Index index;
  index.media_type = string_field(*document, "mediaType");
  if (!index.media_type.empty() && !is_index_media_type(index.media_type)) {
    return std::unexpected("mediaType \"" + index.media_type + "\" is not an index type");
  }
  auto manifests = descriptor_list(*document, "manifests");
  if (!manifests) {
    return std::unexpected(manifests.error());
  }
  index.manifests = std::move(*manifests);
  auto subject = subject_of(*document);
  if (!subject) {
    return std::unexpected(subject.error());
  }
  index.subject = std::move(*subject);
  index.artifact_type = string_field(*document, "artifactType");
  index.annotations = annotations_of(*document);
  return index;
}

std::string detect_media_type(std::string_view bytes) {
  auto document = parse_document(bytes);
  if (!document) {
    return {};
  }
  std::string media_type = string_field(*document, "mediaType");
  if (!media_type.empty()) {
    return media_type;
  }
  if (document->contains("manifests")) {
    return std::string(media_type::kOciIndex);
  }
  if (document->contains("config")) {
    return std::string(media_type::kOciManifest);
  }
  return {};
}

}  // namespace multipush::oci
