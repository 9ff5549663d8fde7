#pragma once

// Test helpers that write small OCI image layouts into temporary directories.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "multipush/oci/descriptor.hpp"
#include "multipush/oci/digest.hpp"

namespace multipush::testing {

namespace fs = std::filesystem;

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "multipush-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

// Deterministic filler content of `size` bytes that differs per `seed`.
inline std::string filler(const std::string& seed, size_t size) {
  std::string bytes;
  bytes.reserve(size);
  unsigned state = 2166136261u;
  for (char c : seed) {
    state = (state ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  while (bytes.size() < size) {
    state = state * 1103515245u + 12345u;
    bytes.push_back(static_cast<char>((state >> 16) & 0xff));
  }
  return bytes;
}

// Writes blobs and an index.json into a layout directory.
class LayoutBuilder {
 public:
  explicit LayoutBuilder(fs::path directory, bool write_oci_layout = true) : directory_(std::move(directory)) {
    fs::create_directories(directory_ / "blobs" / "sha256");
    if (write_oci_layout) {
      write_file(directory_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    }
  }

  const fs::path& directory() const { return directory_; }

  fs::path blob_path(const std::string& digest) const {
    return directory_ / "blobs" / "sha256" / digest.substr(std::string("sha256:").size());
  }

  nlohmann::json add_blob(const std::string& bytes, const std::string& media_type) {
    const std::string digest = oci::sha256_digest(bytes);
    write_file(blob_path(digest), bytes);
    return {{"mediaType", media_type}, {"digest", digest}, {"size", bytes.size()}};
  }

  // Writes a config, a 4 KiB layer shared by every manifest built with the
  // same `shared_seed`, a larger layer of its own and an image manifest.
  // Returns the manifest's descriptor with its platform.
  nlohmann::json add_image_manifest(const std::string& os, const std::string& architecture,
                                    const std::string& seed, const std::string& shared_seed = "shared") {
    nlohmann::json config = {{"architecture", architecture}, {"os", os}, {"rootfs", {{"type", "layers"}}}};
    config["rootfs"]["diff_ids"] = nlohmann::json::array();
    const auto config_descriptor = add_blob(config.dump(), std::string(oci::media_type::kOciConfig));
    const std::string layer_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", oci::media_type::kOciManifest},
                               {"config", config_descriptor},
                               {"layers",
                                {add_blob(filler(shared_seed, 4096), layer_type),
                                 add_blob(filler(seed + os + architecture, 300 * 1024 + 17), layer_type)}}};
    auto descriptor = add_blob(manifest.dump(), std::string(oci::media_type::kOciManifest));
    descriptor["platform"] = {{"architecture", architecture}, {"os", os}};
    return descriptor;
  }

  // Writes a legacy BuildKit attestation manifest for `subject_digest`.
  nlohmann::json add_attestation(const std::string& subject_digest, const std::string& seed) {
    const auto config_descriptor =
        add_blob(R"({"architecture":"unknown","os":"unknown","config":{}})", std::string(oci::media_type::kOciConfig));
    auto statement = add_blob(R"({"_type":"https://in-toto.io/Statement/v0.1","seed":")" + seed + "\"}",
                              std::string(oci::media_type::kInToto));
    statement["annotations"] = {{"in-toto.io/predicate-type", "https://slsa.dev/provenance/v0.2"}};
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", oci::media_type::kOciManifest},
                               {"config", config_descriptor},
                               {"layers", {statement}}};
    auto descriptor = add_blob(manifest.dump(), std::string(oci::media_type::kOciManifest));
    descriptor["platform"] = {{"architecture", "unknown"}, {"os", "unknown"}};
    descriptor["annotations"] = {{"vnd.docker.reference.type", "attestation-manifest"},
                                 {"vnd.docker.reference.digest", subject_digest}};
    return descriptor;
  }

  // Writes an image index of linux/amd64 and linux/arm64 followed by one
  // attestation manifest per platform (as BuildKit does); returns its descriptor.
  nlohmann::json add_two_platform_index(const std::string& seed, bool with_attestations = true) {
    const auto amd64 = add_image_manifest("linux", "amd64", seed);
    const auto arm64 = add_image_manifest("linux", "arm64", seed);
    nlohmann::json manifests = {amd64, arm64};
    if (with_attestations) {
      manifests.push_back(add_attestation(amd64["digest"], seed + "amd64"));
      manifests.push_back(add_attestation(arm64["digest"], seed + "arm64"));
    }
    nlohmann::json index = {
        {"schemaVersion", 2}, {"mediaType", oci::media_type::kOciIndex}, {"manifests", manifests}};
    return add_blob(index.dump(), std::string(oci::media_type::kOciIndex));
  }

  // Appends an entry to index.json, annotated with `ref_name` when not empty.
  void add_entry(nlohmann::json descriptor, const std::string& ref_name = "") {
    if (!ref_name.empty()) {
      descriptor["annotations"]["org.opencontainers.image.ref.name"] = ref_name;
    }
    entries_.push_back(std::move(descriptor));
    write_file(directory_ / "index.json",
               nlohmann::json{{"schemaVersion", 2}, {"mediaType", oci::media_type::kOciIndex}, {"manifests", entries_}}
                   .dump());
  }

 private:
  fs::path directory_;
  nlohmann::json entries_ = nlohmann::json::array();
};

}  // namespace multipush::testing
