#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/oci/descriptor.hpp"
#include "multipush/oci/manifest.hpp"

// Reading an OCI image layout directory (index.json, blobs/<alg>/<hex>) and
// loading one image from it with every manifest and blob it references.
namespace multipush::oci {

// Selection rules for the index.json entry to load. The first non-empty rule wins:
// `digest` (the buildx metadata's containerimage.digest), then `ref_name`,
// then the only entry of the layout.
struct ImageSelector {
  std::string digest;
  // A tag ("1.2.3") or a full name ("docker.io/acme/app:1.2.3"); matches
  // the entry's org.opencontainers.image.ref.name, which may hold either.
  std::string ref_name;
};

class Layout {
 public:
  // Opens a layout and parses its index.json. A missing oci-layout file is
  // accepted (buildx v0.10 writes none); unknown files and ingest/ are ignored.
  static std::expected<Layout, std::string> open(const std::filesystem::path& directory);

  const std::filesystem::path& directory() const { return directory_; }
  const Index& index() const { return index_; }

  // Path of a blob: <layout>/blobs/<algorithm>/<encoded>. Does not check
  // that the file exists.
  std::filesystem::path blob_path(std::string_view digest) const;

  // Reads a whole blob and checks its size and digest against `descriptor`.
  // Meant for manifests and configs; layers are streamed instead.
  std::expected<std::string, std::string> read_blob(const Descriptor& descriptor) const;

  // Picks the index.json entry described by `selector`.
  std::expected<Descriptor, std::string> select(const ImageSelector& selector) const;

 private:
  std::filesystem::path directory_;
  Index index_;
};

// A manifest or index with its bytes exactly as stored in the layout.
struct StoredManifest {
  Descriptor descriptor;      // as the parent (or index.json) lists it
  std::string bytes;
};

// One child of the root index, with its parsed content.
struct ChildManifest {
  StoredManifest stored;
  Manifest manifest;
};

// An image loaded from a layout: the root (an index, or a single manifest),
// its platform and attestation manifests, and every blob they reference.
struct Image {
  std::filesystem::path layout_directory;
  StoredManifest root;
  bool root_is_index = false;
  std::optional<Manifest> root_manifest;    // set when the root is a single manifest
  std::vector<ChildManifest> platforms;     // real platforms, in index order
  std::vector<ChildManifest> attestations;  // attestation manifests, in index order
  // Manifests whose subject is the root or one of its children (OCI
  // referrers, such as signatures and SBOMs). load_image leaves this empty.
  std::vector<ChildManifest> referrers;

  // Config and layer descriptors, deduplicated by digest: those of the
  // platform manifests (or of a single-manifest root) first, then, when
  // `include_attestations` is set, those only attestations use, then those
  // only referrers use.
  std::vector<Descriptor> blobs(bool include_attestations = true) const;
  // Returns the repositories on registry `host` that distribution-source
  // annotations name for blob `digest`: those on the blob's own descriptors
  // first, then those on the manifests that list it, then those on the root.
  std::vector<std::string> mount_hints(std::string_view digest, std::string_view host) const;
  // Path of a blob in the layout.
  std::filesystem::path blob_path(std::string_view digest) const;
  // Platforms of the image, normalised ("linux/amd64", "linux/arm64").
  std::vector<std::string> platform_names() const;
  // Digest of the root, which is what tags point to.
  const std::string& digest() const { return root.descriptor.digest; }
};

// Loads the image whose root is `root` (an entry of the layout's index.json):
// reads and verifies the root and every child manifest and sorts the children
// into platforms and attestations. Layers are not read here.
std::expected<Image, std::string> load_image(const Layout& layout, const Descriptor& root);

// Opens the layout in `directory`, selects the entry and loads it.
std::expected<Image, std::string> load_image(const std::filesystem::path& directory,
                                             const ImageSelector& selector);

// Returns a copy of `image` whose root index lists no attestation manifests.
// The new index is serialised once, so its bytes, digest and size belong
// together; the digest differs from the original index's digest. An image
// without attestations, or with a single-manifest root, is returned unchanged.
Image without_attestations(const Image& image);

}  // namespace multipush::oci
