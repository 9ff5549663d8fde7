#include "multipush/oci/layout.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>

#include "multipush/oci/digest.hpp"

namespace multipush::oci {

namespace fs = std::filesystem;

namespace {

// The digest grammar of the OCI image spec: algorithm ":" encoded, with
// characters that cannot form a path separator or "..".
bool is_safe_digest(std::string_view digest) {
  const size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == digest.size()) {
    return false;
  }
  for (size_t i = 0; i < digest.size(); ++i) {
    const char c = digest[i];
    const bool lower = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (i < colon) {
      if (!lower && c != '+' && c != '.' && c != '_' && c != '-') {
        return false;
      }
    } else if (i > colon) {
      if (!lower && !(c >= 'A' && c <= 'Z') && c != '=' && c != '_' && c != '-') {
        return false;
      }
    }
  }
  return true;
}

std::expected<std::string, std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected("cannot open " + path.string());
  }
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return std::unexpected("cannot read " + path.string());
  }
  return bytes;
}

// Returns the tag of a name such as "docker.io/acme/app:1.2.3". A bare tag is
// returned whole, and a name without a tag gives an empty string.
std::string tag_of(std::string_view name) {
  if (const size_t at = name.find('@'); at != std::string_view::npos) {
    name = name.substr(0, at);
  }
  const size_t slash = name.rfind('/');
  const size_t colon = name.find(':', slash == std::string_view::npos ? 0 : slash);
  if (colon == std::string_view::npos) {
    return slash == std::string_view::npos ? std::string(name) : std::string();
  }
  return std::string(name.substr(colon + 1));
}

bool is_bare_tag(std::string_view text) {
  return text.find('/') == std::string_view::npos && text.find(':') == std::string_view::npos;
}

bool matches_ref_name(const Descriptor& entry, const std::string& wanted) {
  const std::string ref_name = entry.annotation(annotation::kRefName);
  if (ref_name == wanted || entry.annotation(annotation::kContainerdImageName) == wanted) {
    return true;
  }
  return is_bare_tag(wanted) && !ref_name.empty() && tag_of(ref_name) == wanted;
}

std::string describe_entries(const std::vector<Descriptor>& entries) {
  std::string text;
  for (const auto& entry : entries) {
    if (!text.empty()) {
      text += ", ";
    }
    text += entry.digest;
    const std::string ref_name = entry.annotation(annotation::kRefName);
    if (!ref_name.empty()) {
      text += " (" + ref_name + ")";
    }
  }
  return text.empty() ? "no entries" : text;
}

}  // namespace

std::expected<Layout, std::string> Layout::open(const fs::path& directory) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return std::unexpected("OCI layout " + directory.string() + " is not a directory; build the image first");
  }
  const fs::path marker = directory / "oci-layout";
  if (fs::exists(marker, error)) {
    auto bytes = read_file(marker);
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    const auto header = nlohmann::json::parse(*bytes, nullptr, false);
    if (header.is_discarded() || !header.is_object() || !header.contains("imageLayoutVersion")) {
      return std::unexpected(marker.string() + " is not a valid oci-layout file (expected {\"imageLayoutVersion\": ...})");
    }
  }
  const fs::path index_path = directory / "index.json";
  auto index_bytes = read_file(index_path);
  if (!index_bytes) {
    return std::unexpected(index_path.string() + " is missing: " + directory.string() +
                           " is not an OCI image layout");
  }
  auto index = parse_index(*index_bytes);
  if (!index) {
    return std::unexpected(index_path.string() + " is invalid: " + index.error());
  }
  Layout layout;
  layout.directory_ = directory;
  layout.index_ = std::move(*index);
  return layout;
}

fs::path Layout::blob_path(std::string_view digest) const {
  const size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return directory_ / "blobs" / std::string(digest);
  }
  return directory_ / "blobs" / std::string(digest.substr(0, colon)) / std::string(digest.substr(colon + 1));
}

std::expected<std::string, std::string> Layout::read_blob(const Descriptor& descriptor) const {
  if (!is_safe_digest(descriptor.digest)) {
    return std::unexpected("invalid digest \"" + descriptor.digest + "\" in OCI layout " + directory_.string());
  }
  if (!descriptor.digest.starts_with("sha256:")) {
    return std::unexpected("blob " + descriptor.digest + " in OCI layout " + directory_.string() +
                           " uses an unsupported digest algorithm; only sha256 is supported");
  }
  const fs::path path = blob_path(descriptor.digest);
  auto bytes = read_file(path);
  if (!bytes) {
    return std::unexpected("blob " + descriptor.digest + " is missing from OCI layout " + directory_.string() +
                           ": " + bytes.error());
  }
  if (bytes->size() != descriptor.size) {
    return std::unexpected("blob " + descriptor.digest + " at " + path.string() + " is " +
                           std::to_string(bytes->size()) + " bytes, but its descriptor says " +
                           std::to_string(descriptor.size) + "; rebuild the image into a fresh layout directory");
  }
  const std::string actual = sha256_digest(*bytes);
  if (actual != descriptor.digest) {
    return std::unexpected("blob " + descriptor.digest + " at " + path.string() + " is corrupt: its content has digest " +
                           actual + "; rebuild the image into a fresh layout directory");
  }
  return bytes;
}

std::expected<Descriptor, std::string> Layout::select(const ImageSelector& selector) const {
  const auto& entries = index_.manifests;
  const std::string index_path = (directory_ / "index.json").string();

  if (!selector.digest.empty()) {
    for (const auto& entry : entries) {
      if (entry.digest == selector.digest) {
        return entry;
      }
    }
    return std::unexpected("no entry of " + index_path + " has digest " + selector.digest +
                           "; it lists " + describe_entries(entries));
  }

  if (!selector.ref_name.empty()) {
    std::vector<Descriptor> matches;
    for (const auto& entry : entries) {
      if (matches_ref_name(entry, selector.ref_name)) {
        matches.push_back(entry);
      }
    }
    if (matches.empty()) {
      return std::unexpected("no entry of " + index_path + " is named \"" + selector.ref_name + "\"; it lists " +
                             describe_entries(entries));
    }
    for (const auto& match : matches) {
      if (match.digest != matches.front().digest) {
        return std::unexpected("several entries of " + index_path + " are named \"" + selector.ref_name +
                               "\": " + describe_entries(matches) + "; select the image by digest");
      }
    }
    return matches.front();
  }

  if (entries.size() == 1) {
    return entries.front();
  }
  if (entries.empty()) {
    return std::unexpected(index_path + " lists no images; build the image first");
  }
  return std::unexpected(index_path + " lists " + std::to_string(entries.size()) + " images (" +
                         describe_entries(entries) + "); select one by digest or reference name");
}

namespace {

std::expected<ChildManifest, std::string> load_child(const Layout& layout, const Descriptor& descriptor) {
  if (!is_manifest_media_type(descriptor.media_type)) {
    // NOTE: nested indexes and artifact types other than image manifests are
    // not copied yet, so an index that lists one cannot be pushed.
    return std::unexpected("index entry " + descriptor.digest + " has media type " + descriptor.media_type +
                           ", which is not an image manifest; only indexes of image manifests are supported");
  }
  auto bytes = layout.read_blob(descriptor);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  auto manifest = parse_manifest(*bytes);
  if (!manifest) {
    return std::unexpected("manifest " + descriptor.digest + " in " + layout.directory().string() +
                           " is invalid: " + manifest.error());
  }
  if (!manifest->media_type.empty() && manifest->media_type != descriptor.media_type) {
    return std::unexpected("manifest " + descriptor.digest + " declares media type " + manifest->media_type +
                           " but its index entry says " + descriptor.media_type);
  }
  ChildManifest child;
  child.stored.descriptor = descriptor;
  child.stored.bytes = std::move(*bytes);
  child.manifest = std::move(*manifest);
  return child;
}

// Reads the platform of a single-manifest image from its config blob.
std::optional<Platform> platform_from_config(const Layout& layout, const Descriptor& config) {
  auto bytes = layout.read_blob(config);
  if (!bytes) {
    return std::nullopt;
  }
  const auto document = nlohmann::json::parse(*bytes, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return std::nullopt;
  }
  Platform platform;
  platform.os = document.value("os", "");
  platform.architecture = document.value("architecture", "");
  platform.variant = document.value("variant", "");
  if (platform.os.empty() || platform.architecture.empty()) {
    return std::nullopt;
  }
  return platform;
}

}  // namespace

std::expected<Image, std::string> load_image(const Layout& layout, const Descriptor& root) {
  Image image;
  image.layout_directory = layout.directory();
  image.root.descriptor = root;
  auto bytes = layout.read_blob(root);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  image.root.bytes = std::move(*bytes);

  if (is_manifest_media_type(root.media_type)) {
    auto single = load_child(layout, root);
    if (!single) {
      return std::unexpected(single.error());
    }
    image.root_manifest = std::move(single->manifest);
    if (!image.root.descriptor.platform) {
      image.root.descriptor.platform = platform_from_config(layout, image.root_manifest->config);
    }
    return image;
  }
  if (!is_index_media_type(root.media_type)) {
    return std::unexpected("image " + root.digest + " in " + layout.directory().string() + " has media type " +
                           root.media_type + ", which is neither an image index nor an image manifest");
  }

  auto index = parse_index(image.root.bytes);
  if (!index) {
    return std::unexpected("index " + root.digest + " in " + layout.directory().string() + " is invalid: " +
                           index.error());
  }
  image.root_is_index = true;
  for (const auto& entry : index->manifests) {
    auto child = load_child(layout, entry);
    if (!child) {
      return std::unexpected(child.error());
    }
    if (entry.is_attestation()) {
      image.attestations.push_back(std::move(*child));
    } else {
      image.platforms.push_back(std::move(*child));
    }
  }
  return image;
}

std::expected<Image, std::string> load_image(const fs::path& directory, const ImageSelector& selector) {
  auto layout = Layout::open(directory);
  if (!layout) {
    return std::unexpected(layout.error());
  }
  auto root = layout->select(selector);
  if (!root) {
    return std::unexpected(root.error());
  }
  return load_image(*layout, *root);
}

std::vector<Descriptor> Image::blobs(bool include_attestations) const {
  std::vector<Descriptor> result;
  std::set<std::string> seen;
  const auto add_manifest = [&](const Manifest& manifest) {
    if (seen.insert(manifest.config.digest).second) {
      result.push_back(manifest.config);
    }
    for (const auto& layer : manifest.layers) {
      if (seen.insert(layer.digest).second) {
        result.push_back(layer);
      }
    }
  };
  if (root_manifest) {
    add_manifest(*root_manifest);
  }
  for (const auto& child : platforms) {
    add_manifest(child.manifest);
  }
  if (include_attestations) {
    for (const auto& child : attestations) {
      add_manifest(child.manifest);
    }
  }
  for (const auto& child : referrers) {
    add_manifest(child.manifest);
  }
  return result;
}

std::vector<std::string> Image::mount_hints(std::string_view digest, std::string_view host) const {
  std::vector<std::string> own;
  std::vector<std::string> from_manifests;
  bool listed_anywhere = false;
  const auto add = [host](std::vector<std::string>& hints, const Descriptor& descriptor) {
    for (auto& repository : distribution_sources(descriptor, host)) {
      if (std::find(hints.begin(), hints.end(), repository) == hints.end()) {
        hints.push_back(std::move(repository));
      }
    }
  };
  const auto visit = [&](const Descriptor& listed, const Manifest& manifest) {
    bool lists_blob = false;
    if (manifest.config.digest == digest) {
      lists_blob = true;
      add(own, manifest.config);
    }
    for (const auto& layer : manifest.layers) {
      if (layer.digest == digest) {
        lists_blob = true;
        add(own, layer);
      }
    }
    if (lists_blob) {
      listed_anywhere = true;
      add(from_manifests, listed);
    }
  };
  if (root_manifest) {
    visit(root.descriptor, *root_manifest);
  }
  for (const auto* children : {&platforms, &attestations, &referrers}) {
    for (const auto& child : *children) {
      visit(child.stored.descriptor, child.manifest);
    }
  }
  if (listed_anywhere) {
    add(from_manifests, root.descriptor);
  }
  for (auto& repository : from_manifests) {
    if (std::find(own.begin(), own.end(), repository) == own.end()) {
      own.push_back(std::move(repository));
    }
  }
  return own;
}

fs::path Image::blob_path(std::string_view digest) const {
  const size_t colon = digest.find(':');
  return layout_directory / "blobs" / std::string(digest.substr(0, colon)) / std::string(digest.substr(colon + 1));
}

std::vector<std::string> Image::platform_names() const {
  std::vector<std::string> names;
  if (root_manifest) {
    if (root.descriptor.platform) {
      names.push_back(root.descriptor.platform->str());
    }
    return names;
  }
  for (const auto& child : platforms) {
    if (child.stored.descriptor.platform) {
      names.push_back(child.stored.descriptor.platform->str());
    }
  }
  return names;
}

Image without_attestations(const Image& image) {
  if (!image.root_is_index || image.attestations.empty()) {
    return image;
  }
  // ordered_json keeps the original key order, so the new index reads like the old one.
  auto document = nlohmann::ordered_json::parse(image.root.bytes);
  const auto plain = nlohmann::json::parse(image.root.bytes);
  const auto& entries = document["manifests"];
  nlohmann::ordered_json kept = nlohmann::ordered_json::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto descriptor = parse_descriptor(plain["manifests"][i]);
    if (descriptor && descriptor->is_attestation()) {
      continue;
    }
    kept.push_back(entries[i]);
  }
  document["manifests"] = std::move(kept);

  Image stripped = image;
  stripped.attestations.clear();
  stripped.root.bytes = document.dump();
  stripped.root.descriptor.digest = sha256_digest(stripped.root.bytes);
  stripped.root.descriptor.size = stripped.root.bytes.size();
  return stripped;
}

}  // namespace multipush::oci
