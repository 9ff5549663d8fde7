#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "multipush/oci/digest.hpp"
#include "multipush/oci/layout.hpp"
#include "oci/layout_builder.hpp"

using namespace multipush::oci;
using multipush::testing::LayoutBuilder;
using multipush::testing::TempDir;
using multipush::testing::write_file;

TEST_CASE("layout open with and without oci-layout") {
  for (const bool with_marker : {true, false}) {
    CAPTURE(with_marker);
    TempDir temp;
    LayoutBuilder builder(temp.path(), with_marker);
    const auto index = builder.add_two_platform_index("a");
    builder.add_entry(index, "1.2.3");
    // Leftovers that BuildKit may write next to a layout must be ignored.
    std::filesystem::create_directories(temp.path() / "ingest" / "partial");
    write_file(temp.path() / "index.json.lock", "");

    auto layout = Layout::open(temp.path());
    REQUIRE_MESSAGE(layout.has_value(), layout.error());
    REQUIRE(layout->index().manifests.size() == 1);
    CHECK(layout->index().manifests[0].digest == index["digest"]);
  }
}

TEST_CASE("layout open errors") {
  TempDir temp;
  auto missing_index = Layout::open(temp.path());
  REQUIRE_FALSE(missing_index.has_value());
  CHECK(missing_index.error().find("index.json") != std::string::npos);

  auto not_a_directory = Layout::open(temp.path() / "absent");
  REQUIRE_FALSE(not_a_directory.has_value());
  CHECK(not_a_directory.error().find("absent") != std::string::npos);

  write_file(temp.path() / "index.json", "{");
  auto invalid = Layout::open(temp.path());
  REQUIRE_FALSE(invalid.has_value());
  CHECK(invalid.error().find("invalid") != std::string::npos);
}

TEST_CASE("layout loads platforms and attestations") {
  TempDir temp;
  LayoutBuilder builder(temp.path(), false);
  const auto index = builder.add_two_platform_index("a");
  builder.add_entry(index, "docker.io/acme/app:1.2.3");

  auto image = load_image(temp.path(), ImageSelector{});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  CHECK(image->root_is_index);
  CHECK(image->digest() == index["digest"]);
  CHECK(sha256_digest(image->root.bytes) == image->digest());
  REQUIRE(image->platforms.size() == 2);
  REQUIRE(image->attestations.size() == 2);
  CHECK(image->platform_names() == std::vector<std::string>{"linux/amd64", "linux/arm64"});
  for (const auto& child : image->platforms) {
    CHECK(sha256_digest(child.stored.bytes) == child.stored.descriptor.digest);
  }

  // Two configs and three layers (one shared) for the platforms, then one
  // config and two statements for the attestations; the attestations share
  // their config.
  const auto all = image->blobs(true);
  const auto platform_only = image->blobs(false);
  CHECK(platform_only.size() == 5);
  CHECK(all.size() == 8);
  std::set<std::string> unique;
  for (const auto& blob : all) {
    unique.insert(blob.digest);
    CHECK(std::filesystem::file_size(image->blob_path(blob.digest)) == blob.size);
  }
  CHECK(unique.size() == all.size());
}

TEST_CASE("layout selects by digest then ref name") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  const auto first = builder.add_two_platform_index("first");
  const auto second = builder.add_two_platform_index("second");
  builder.add_entry(first, "docker.io/acme/app:1.0.0");
  builder.add_entry(second, "2.0.0");
  auto layout = Layout::open(temp.path());
  REQUIRE(layout.has_value());

  SUBCASE("digest") {
    auto selected = layout->select({.digest = second["digest"], .ref_name = "1.0.0"});
    REQUIRE(selected.has_value());
    CHECK(selected->digest == second["digest"]);
  }
  SUBCASE("unknown digest") {
    const std::string absent = sha256_digest("absent");
    auto selected = layout->select({.digest = absent, .ref_name = ""});
    REQUIRE_FALSE(selected.has_value());
    CHECK(selected.error().find(absent) != std::string::npos);
  }
  SUBCASE("tag matches a full ref name") {
    auto selected = layout->select({.digest = "", .ref_name = "1.0.0"});
    REQUIRE(selected.has_value());
    CHECK(selected->digest == first["digest"]);
  }
  SUBCASE("full name matches exactly") {
    auto selected = layout->select({.digest = "", .ref_name = "docker.io/acme/app:1.0.0"});
    REQUIRE(selected.has_value());
    CHECK(selected->digest == first["digest"]);
  }
  SUBCASE("plain tag") {
    auto selected = layout->select({.digest = "", .ref_name = "2.0.0"});
    REQUIRE(selected.has_value());
    CHECK(selected->digest == second["digest"]);
  }
  SUBCASE("unknown name lists the entries") {
    auto selected = layout->select({.digest = "", .ref_name = "3.0.0"});
    REQUIRE_FALSE(selected.has_value());
    CHECK(selected.error().find("2.0.0") != std::string::npos);
  }
  SUBCASE("several entries need a selector") {
    auto selected = layout->select({});
    REQUIRE_FALSE(selected.has_value());
    CHECK(selected.error().find("2 images") != std::string::npos);
  }
}

TEST_CASE("layout ref name matching several digests is ambiguous") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("old"), "latest");
  builder.add_entry(builder.add_two_platform_index("new"), "docker.io/acme/app:latest");
  auto layout = Layout::open(temp.path());
  REQUIRE(layout.has_value());
  auto selected = layout->select({.digest = "", .ref_name = "latest"});
  REQUIRE_FALSE(selected.has_value());
  CHECK(selected.error().find("several") != std::string::npos);
}

TEST_CASE("layout corrupted blob names blob and path") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  const auto index = builder.add_two_platform_index("a");
  builder.add_entry(index);
  auto image = load_image(temp.path(), {});
  REQUIRE(image.has_value());
  const auto& victim = image->platforms[1].stored.descriptor;
  const auto path = builder.blob_path(victim.digest);

  SUBCASE("same size, different content") {
    std::string bytes = image->platforms[1].stored.bytes;
    bytes[bytes.size() / 2] = bytes[bytes.size() / 2] == 'x' ? 'y' : 'x';
    write_file(path, bytes);
    auto reloaded = load_image(temp.path(), {});
    REQUIRE_FALSE(reloaded.has_value());
    CHECK(reloaded.error().find(victim.digest) != std::string::npos);
    CHECK(reloaded.error().find(path.string()) != std::string::npos);
    CHECK(reloaded.error().find("corrupt") != std::string::npos);
  }
  SUBCASE("truncated") {
    write_file(path, image->platforms[1].stored.bytes.substr(1));
    auto reloaded = load_image(temp.path(), {});
    REQUIRE_FALSE(reloaded.has_value());
    CHECK(reloaded.error().find(victim.digest) != std::string::npos);
    CHECK(reloaded.error().find(path.string()) != std::string::npos);
  }
  SUBCASE("missing") {
    std::filesystem::remove(path);
    auto reloaded = load_image(temp.path(), {});
    REQUIRE_FALSE(reloaded.has_value());
    CHECK(reloaded.error().find(victim.digest) != std::string::npos);
    CHECK(reloaded.error().find("missing") != std::string::npos);
  }
}

TEST_CASE("layout rejects unsafe digests") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("a"));
  auto layout = Layout::open(temp.path());
  REQUIRE(layout.has_value());
  Descriptor escape;
  escape.media_type = std::string(media_type::kOciManifest);
  escape.digest = "sha256:../../etc/passwd";
  auto read = layout->read_blob(escape);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().find("invalid digest") != std::string::npos);
}

TEST_CASE("layout single manifest root") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  const auto manifest = builder.add_image_manifest("linux", "arm64", "single");
  auto entry = manifest;
  entry.erase("platform");
  builder.add_entry(entry, "latest");
  auto image = load_image(temp.path(), {.digest = "", .ref_name = "latest"});
  REQUIRE_MESSAGE(image.has_value(), image.error());
  CHECK_FALSE(image->root_is_index);
  CHECK(image->platforms.empty());
  CHECK(image->blobs().size() == 3);
  CHECK(image->platform_names() == std::vector<std::string>{"linux/arm64"});
}

TEST_CASE("layout index without attestations") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("a"));
  auto image = load_image(temp.path(), {});
  REQUIRE(image.has_value());

  const Image stripped = without_attestations(*image);
  CHECK(stripped.attestations.empty());
  CHECK(stripped.platforms.size() == 2);
  CHECK(stripped.digest() != image->digest());
  CHECK(stripped.digest() == sha256_digest(stripped.root.bytes));
  CHECK(stripped.root.descriptor.size == stripped.root.bytes.size());
  auto index = parse_index(stripped.root.bytes);
  REQUIRE(index.has_value());
  REQUIRE(index->manifests.size() == 2);
  CHECK(index->manifests[0].digest == image->platforms[0].stored.descriptor.digest);
  CHECK(index->manifests[1].digest == image->platforms[1].stored.descriptor.digest);
  CHECK(stripped.blobs(true).size() == 5);

  // An image without attestations comes back byte for byte.
  const Image again = without_attestations(stripped);
  CHECK(again.root.bytes == stripped.root.bytes);
}

TEST_CASE("layout mount hints from annotations") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  const std::string source_key = "containerd.io/distribution.source.ghcr.io";
  const auto config = builder.add_blob(R"({"architecture":"amd64","os":"linux"})",
                                       std::string(media_type::kOciConfig));
  auto hinted_layer = builder.add_blob("layer with a hint", "application/vnd.oci.image.layer.v1.tar+gzip");
  hinted_layer["annotations"] = {{source_key, "acme/layer-home,acme/base"}};
  const auto plain_layer = builder.add_blob("layer without a hint", "application/vnd.oci.image.layer.v1.tar+gzip");
  const nlohmann::json manifest = {{"schemaVersion", 2},
                                   {"mediaType", media_type::kOciManifest},
                                   {"config", config},
                                   {"layers", {hinted_layer, plain_layer}}};
  auto entry = builder.add_blob(manifest.dump(), std::string(media_type::kOciManifest));
  entry["annotations"] = {{source_key, "acme/base"},
                          {"containerd.io/distribution.source.quay.io", "acme/elsewhere"}};
  builder.add_entry(entry, "latest");
  auto image = load_image(temp.path(), {});
  REQUIRE_MESSAGE(image.has_value(), image.error());

  // The blob's own hints come first, then the root entry's, without repeats.
  CHECK(image->mount_hints(hinted_layer["digest"].get<std::string>(), "ghcr.io") ==
        std::vector<std::string>{"acme/layer-home", "acme/base"});
  CHECK(image->mount_hints(plain_layer["digest"].get<std::string>(), "ghcr.io") ==
        std::vector<std::string>{"acme/base"});
  CHECK(image->mount_hints(config["digest"].get<std::string>(), "quay.io") ==
        std::vector<std::string>{"acme/elsewhere"});
  CHECK(image->mount_hints(plain_layer["digest"].get<std::string>(), "docker.io").empty());
  // A digest the image does not list gets no hints from the root.
  CHECK(image->mount_hints("sha256:" + std::string(64, '0'), "ghcr.io").empty());
}

TEST_CASE("layout mount hints from a platform entry") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  auto amd64 = builder.add_image_manifest("linux", "amd64", "hints");
  const auto arm64 = builder.add_image_manifest("linux", "arm64", "hints");
  amd64["annotations"] = {{"containerd.io/distribution.source.ghcr.io", "acme/amd64-only"}};
  const nlohmann::json index = {
      {"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", {amd64, arm64}}};
  builder.add_entry(builder.add_blob(index.dump(), std::string(media_type::kOciIndex)));
  auto image = load_image(temp.path(), {});
  REQUIRE_MESSAGE(image.has_value(), image.error());

  const auto& amd64_layers = image->platforms[0].manifest.layers;
  const auto& arm64_layers = image->platforms[1].manifest.layers;
  // The larger layer is the platform's own; the first one both platforms share.
  CHECK(image->mount_hints(amd64_layers[1].digest, "ghcr.io") == std::vector<std::string>{"acme/amd64-only"});
  CHECK(image->mount_hints(amd64_layers[0].digest, "ghcr.io") == std::vector<std::string>{"acme/amd64-only"});
  CHECK(image->mount_hints(arm64_layers[1].digest, "ghcr.io").empty());
}

TEST_CASE("layout blobs include referrer blobs") {
  TempDir temp;
  LayoutBuilder builder(temp.path());
  builder.add_entry(builder.add_two_platform_index("r"));
  auto image = load_image(temp.path(), {});
  REQUIRE(image.has_value());
  const std::size_t before = image->blobs().size();

  ChildManifest referrer;
  referrer.manifest.config.digest = sha256_digest("{}");
  referrer.manifest.config.size = 2;
  Descriptor sbom;
  sbom.digest = sha256_digest("sbom");
  sbom.size = 4;
  referrer.manifest.layers.push_back(sbom);
  image->referrers.push_back(referrer);

  const auto blobs = image->blobs();
  REQUIRE(blobs.size() == before + 2);
  CHECK(blobs[before].digest == sha256_digest("{}"));
  CHECK(blobs[before + 1].digest == sbom.digest);
}
