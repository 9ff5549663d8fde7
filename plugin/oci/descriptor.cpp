#include "multipush/oci/descriptor.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace multipush::oci {

bool is_index_media_type(std::string_view media_type) {
  return media_type == media_type::kOciIndex || media_type == media_type::kDockerManifestList;
}

bool is_manifest_media_type(std::string_view media_type) {
  return media_type == media_type::kOciManifest || media_type == media_type::kDockerManifest;
}

std::expected<Platform, std::string> Platform::parse(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  bool empty_part = false;
  for (const auto& part : parts) {
    empty_part = empty_part || part.empty();
  }
  if (parts.size() < 2 || parts.size() > 3 || empty_part) {
    return std::unexpected("invalid platform \"" + std::string(text) +
                           "\": expected os/architecture[/variant], such as linux/amd64 or linux/arm64/v8");
  }
  Platform platform;
  platform.os = parts[0];
  platform.architecture = parts[1];
  if (parts.size() == 3) {
    platform.variant = parts[2];
  }
  return platform;
}

Platform Platform::normalized() const {
  Platform copy = *this;
  // Default variants as containerd's platform matcher treats them.
  if ((copy.architecture == "arm64" && copy.variant == "v8") ||
      (copy.architecture == "amd64" && copy.variant == "v1")) {
    copy.variant.clear();
  } else if (copy.architecture == "arm" && copy.variant.empty()) {
    copy.variant = "v7";
  }
  return copy;
}

std::string Platform::str() const {
  const Platform normal = normalized();
  std::string text = normal.os + "/" + normal.architecture;
  if (!normal.variant.empty()) {
    text += "/" + normal.variant;
  }
  return text;
}

bool Platform::is_unknown() const { return os == "unknown" && architecture == "unknown"; }

bool operator==(const Platform& a, const Platform& b) {
  const Platform left = a.normalized();
  const Platform right = b.normalized();
  return left.os == right.os && left.architecture == right.architecture && left.variant == right.variant &&
         left.os_version == right.os_version;
}

std::string Descriptor::annotation(std::string_view key) const {
  const auto found = annotations.find(std::string(key));
  return found == annotations.end() ? std::string() : found->second;
}

bool Descriptor::is_attestation() const {
  if (platform && platform->is_unknown()) {
    return true;
  }
  return annotation(annotation::kReferenceType) == annotation::kAttestationManifest;
}

namespace {

std::expected<std::string, std::string> optional_string(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end()) {
    return std::string();
  }
  if (!found->is_string()) {
    return std::unexpected(std::string("field \"") + key + "\" is not a string");
  }
  return found->get<std::string>();
}

std::expected<std::map<std::string, std::string>, std::string> parse_annotations(const nlohmann::json& object) {
  std::map<std::string, std::string> annotations;
  const auto found = object.find("annotations");
  if (found == object.end() || found->is_null()) {
    return annotations;
  }
  if (!found->is_object()) {
    return std::unexpected("field \"annotations\" is not an object");
  }
  for (const auto& [key, value] : found->items()) {
    if (!value.is_string()) {
      return std::unexpected("annotation \"" + key + "\" is not a string");
    }
    annotations.emplace(key, value.get<std::string>());
  }
  return annotations;
}

std::expected<Platform, std::string> parse_platform(const nlohmann::json& object) {
  if (!object.is_object()) {
    return std::unexpected("field \"platform\" is not an object");
  }
  Platform platform;
  auto os = optional_string(object, "os");
  auto architecture = optional_string(object, "architecture");
  auto variant = optional_string(object, "variant");
  auto os_version = optional_string(object, "os.version");
  for (const auto* field : {&os, &architecture, &variant, &os_version}) {
    if (!*field) {
      return std::unexpected("platform " + field->error());
    }
  }
  if (os->empty() || architecture->empty()) {
    return std::unexpected("platform lacks \"os\" or \"architecture\"");
  }
  platform.os = *os;
  platform.architecture = *architecture;
  platform.variant = *variant;
  platform.os_version = *os_version;
  return platform;
}

}  // namespace

std::expected<Descriptor, std::string> parse_descriptor(const nlohmann::json& object) {
  if (!object.is_object()) {
    return std::unexpected("descriptor is not a JSON object");
  }
  Descriptor descriptor;
  auto media_type = optional_string(object, "mediaType");
  auto digest = optional_string(object, "digest");
  auto artifact_type = optional_string(object, "artifactType");
  for (const auto* field : {&media_type, &digest, &artifact_type}) {
    if (!*field) {
      return std::unexpected("descriptor " + field->error());
    }
  }
  if (media_type->empty()) {
    return std::unexpected("descriptor lacks \"mediaType\"");
  }
  if (digest->empty()) {
    return std::unexpected("descriptor lacks \"digest\"");
  }
  descriptor.media_type = *media_type;
  descriptor.digest = *digest;
  descriptor.artifact_type = *artifact_type;

  const auto size = object.find("size");
  if (size == object.end() || !size->is_number_integer() ||
      (size->is_number_integer() && !size->is_number_unsigned() && size->get<std::int64_t>() < 0)) {
    return std::unexpected("descriptor " + descriptor.digest + " lacks a non-negative integer \"size\"");
  }
  descriptor.size = size->get<std::uint64_t>();

  const auto platform = object.find("platform");
  if (platform != object.end() && !platform->is_null()) {
    auto parsed = parse_platform(*platform);
    if (!parsed) {
      return std::unexpected("descriptor " + descriptor.digest + ": " + parsed.error());
    }
    descriptor.platform = *parsed;
  }

  auto annotations = parse_annotations(object);
  if (!annotations) {
    return std::unexpected("descriptor " + descriptor.digest + ": " + annotations.error());
  }
  descriptor.annotations = std::move(*annotations);

  const auto urls = object.find("urls");
  if (urls != object.end() && urls->is_array()) {
    for (const auto& url : *urls) {
      if (url.is_string()) {
        descriptor.urls.push_back(url.get<std::string>());
      }
    }
  }
  return descriptor;
}

namespace {

bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "registry-1.docker.io" || host == "index.docker.io";
}

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return lowered;
}

bool is_lower_alphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component of a repository name, as the distribution spec
// defines it: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*.
bool is_path_component(std::string_view component) {
  size_t i = 0;
  while (true) {
    const size_t start = i;
    while (i < component.size() && is_lower_alphanumeric(component[i])) {
      ++i;
    }
    if (i == start) {
      return false;
    }
    if (i == component.size()) {
      return true;
    }
    const size_t separator = i;
    while (i < component.size() && !is_lower_alphanumeric(component[i])) {
      ++i;
    }
    const std::string_view between = component.substr(separator, i - separator);
    const bool dashes = between.find_first_not_of('-') == std::string_view::npos;
    if (between != "." && between != "_" && between != "__" && !dashes) {
      return false;
    }
  }
}

bool is_repository_name(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    if (!is_path_component(name.substr(start, slash == std::string_view::npos ? slash : slash - start))) {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    start = slash + 1;
  }
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  while (!text.empty() && text.back() == ' ') {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::vector<std::string> distribution_sources(const Descriptor& descriptor, std::string_view host) {
  const std::string requested = lower_case(host);
  std::vector<std::string> repositories;
  for (const auto& [key, value] : descriptor.annotations) {
    if (!key.starts_with(annotation::kDistributionSourcePrefix)) {
      continue;
    }
    const std::string named = lower_case(std::string_view(key).substr(annotation::kDistributionSourcePrefix.size()));
    const bool same_host = named == requested || (is_docker_hub(named) && is_docker_hub(requested));
    if (!same_host) {
      continue;
    }
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = value.find(',', start);
      const std::string_view entry =
          trim_spaces(std::string_view(value).substr(start, comma == std::string::npos ? comma : comma - start));
      const bool listed = std::find(repositories.begin(), repositories.end(), entry) != repositories.end();
      if (is_repository_name(entry) && !listed) {
        repositories.emplace_back(entry);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return repositories;
}

}  // namespace multipush::oci
