#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "multipush/auth/credentials.hpp"
#include "multipush/oci/layout.hpp"
#include "multipush/oci/manifest.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/pipeline/pipeline.hpp"
#include "multipush/push/push.hpp"
#include "multipush/ref/reference.hpp"
#include "multipush/registry/client.hpp"
#include "multipush/util/env.hpp"
#include "pipeline/common.hpp"

// `mirror SOURCE DEST...`: the source image, with every manifest it lists and
// its referrers, is downloaded once into an OCI layout in a work directory
// and pushed from there to every destination by the push engine.
// NOTE: the work directory needs disk space for the whole image, because
// blobs are not streamed from the source to the destinations directly.
namespace multipush::pipeline {
namespace {

namespace fs = std::filesystem;

// One manifest of the mirrored image, as the source serves it.
struct Fetched {
  oci::Descriptor descriptor;
  std::string bytes;
};

// A referrer and the manifest it refers to.
struct ReferrerEntry {
  std::string subject;
  oci::Descriptor descriptor;
};

class SourceReader {
 public:
  SourceReader(registry::RegistryClient& client, std::string repository, fs::path layout)
      : client_(client), repository_(std::move(repository)), layout_(std::move(layout)) {
    fs::create_directories(layout_ / "blobs" / "sha256");
    std::ofstream(layout_ / "oci-layout") << R"({"imageLayoutVersion":"1.0.0"})"
                                          << "\n";
  }

  // Fetches a manifest by tag or digest and stores its bytes in the layout.
  Fetched manifest(const std::string& reference) {
    auto fetched = client_.get_manifest(repository_, reference);
    if (!fetched)
      throw Fatal(ExitCode::nothing_pushed, "cannot read the source manifest: " + fetched.error().str());
    write_file(blob_path(fetched->digest), fetched->bytes);
    oci::Descriptor descriptor;
    descriptor.media_type =
        fetched->media_type.empty() ? oci::detect_media_type(fetched->bytes) : fetched->media_type;
    descriptor.digest = fetched->digest;
    descriptor.size = fetched->bytes.size();
    return Fetched{descriptor, std::move(fetched->bytes)};
  }

  // Downloads a blob into the layout unless an earlier step did.
  void blob(const oci::Descriptor& descriptor) {
    if (!downloaded_.insert(descriptor.digest).second) return;
    fs::path path = blob_path(descriptor.digest);
    fs::path partial = path;
    partial += ".partial";
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    auto result = client_.get_blob(repository_, descriptor.digest, descriptor.size,
                                   [&out](const char* data, size_t size) {
                                     out.write(data, static_cast<std::streamsize>(size));
                                     return static_cast<bool>(out);
                                   });
    out.close();
    if (!result)
      throw Fatal(ExitCode::nothing_pushed, "cannot download a source blob: " + result.error().str());
    fs::rename(partial, path);
    spdlog::debug("downloaded {} ({} bytes)", descriptor.digest, descriptor.size);
  }

  // Downloads every blob of a manifest.
  void blobs_of(const std::string& bytes) {
    auto parsed = oci::parse_manifest(bytes);
    if (!parsed) throw Fatal(ExitCode::nothing_pushed, "a source manifest is invalid: " + parsed.error());
    blob(parsed->config);
    for (const auto& layer : parsed->layers) blob(layer);
  }

  // Fetches the manifests and blobs of `root` and of every child it lists.
  void image(const Fetched& root) {
    if (!oci::is_index_media_type(root.descriptor.media_type)) {
      blobs_of(root.bytes);
      return;
    }
    auto index = oci::parse_index(root.bytes);
    if (!index) throw Fatal(ExitCode::nothing_pushed, "the source index is invalid: " + index.error());
    for (const auto& child : index->manifests) {
      Fetched fetched = manifest(child.digest);
      if (oci::is_index_media_type(fetched.descriptor.media_type)) {
        image(fetched);
      } else {
        blobs_of(fetched.bytes);
      }
    }
  }

  // Returns the referrers of `digest` (referrers API or fallback tag), with
  // their manifests and blobs fetched.
  std::vector<ReferrerEntry> referrers(const std::string& digest) {
    std::vector<ReferrerEntry> entries;
    auto listed = client_.referrers(repository_, digest);
    if (!listed)
      throw Fatal(ExitCode::nothing_pushed,
                  "cannot list the referrers of " + digest + ": " + listed.error().str());
    for (const auto& descriptor : listed->manifests) {
      Fetched fetched = manifest(descriptor.digest);
      image(fetched);
      oci::Descriptor entry = descriptor;
      entry.media_type = fetched.descriptor.media_type;
      entry.size = fetched.descriptor.size;
      entries.push_back(ReferrerEntry{digest, entry});
    }
    return entries;
  }

  fs::path blob_path(const std::string& digest) const {
    return layout_ / "blobs" / "sha256" / digest.substr(digest.find(':') + 1);
  }

 private:
  static void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  registry::RegistryClient& client_;
  std::string repository_;
  fs::path layout_;
  std::set<std::string> downloaded_;
};

ref::Reference parse_reference(const std::string& text, const char* role) {
  auto parsed = ref::parse(text);
  if (!parsed)
    throw UsageError(fmt::format("the {} reference {} is invalid: {}", role, text, parsed.error()));
  return *parsed;
}

// Writes index.json listing the root and each referrer, so that the layout
// can be loaded entry by entry.
void write_layout_index(const fs::path& layout, const oci::Descriptor& root,
                        const std::vector<ReferrerEntry>& referrers) {
  nlohmann::json manifests = nlohmann::json::array();
  auto add = [&manifests](const oci::Descriptor& descriptor) {
    manifests.push_back(
        {{"mediaType", descriptor.media_type}, {"digest", descriptor.digest}, {"size", descriptor.size}});
  };
  add(root);
  for (const auto& referrer : referrers) add(referrer.descriptor);
  nlohmann::json index = {
      {"schemaVersion", 2}, {"mediaType", oci::media_type::kOciIndex}, {"manifests", manifests}};
  std::ofstream(layout / "index.json") << index.dump() << "\n";
}

class PrintingObserver : public push::Observer {
 public:
  explicit PrintingObserver(output::Printer& printer) : printer_(printer) {}
  void blob(const push::Destination& destination, const std::string& digest, std::uint64_t size,
            std::string_view outcome, std::uint64_t, double, int attempts) override {
    printer_.info(fmt::format("{}/{}: blob {} ({} bytes) {}{}", destination.registry, destination.repository,
                              digest.substr(0, 19), size, outcome,
                              attempts > 1 ? fmt::format(" after {} attempts", attempts) : ""));
  }

 private:
  output::Printer& printer_;
};

}  // namespace

ExitCode mirror(const Options& options, const std::string& source_text,
                const std::vector<std::string>& destination_texts) {
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  if (destination_texts.empty())
    throw UsageError("mirror needs at least one destination: docker multipush mirror SOURCE DEST [DEST...]");

  ref::Reference source = parse_reference(source_text, "source");
  if (!source.tag && !source.digest) {
    throw UsageError("the source " + source_text + " names no tag or digest: add one, such as " +
                     source_text + ":latest");
  }
  std::vector<ref::Reference> destinations;
  for (const auto& text : destination_texts) {
    ref::Reference destination = parse_reference(text, "destination");
    if (destination.digest)
      throw UsageError("the destination " + text + " names a digest: give a tag or none");
    destinations.push_back(std::move(destination));
  }

  // One client per registry host, shared by the source and the destinations.
  fs::path certs_dir = util::get_env_or("MULTIPUSH_CERTS_DIR", "/etc/docker/certs.d");
  std::map<std::string, std::unique_ptr<registry::RegistryClient>> clients;
  auto client_for = [&](const std::string& host) -> registry::RegistryClient& {
    auto& client = clients[host];
    if (!client) {
      registry::Options client_options;
      client_options.host = host;
      client_options.credentials =
          auth::from_docker_config(host, auth::docker_config_dir(options.docker.config_dir));
      client_options.certs_dir = certs_dir;
      client_options.on_retry = [&printer](const registry::RetryEvent& event) {
        printer.info(fmt::format("{} {} failed ({}), retrying in {} ms", event.method, event.url,
                                 event.reason, event.delay.count()));
      };
      client = std::make_unique<registry::RegistryClient>(client_options);
    }
    return *client;
  };

  WorkDir work_dir("mirror");
  fs::path layout = work_dir.path() / "layout";
  printer.step("Reading " + source.str());
  SourceReader reader(client_for(source.registry), source.repository, layout);
  Fetched root = reader.manifest(source.digest ? *source.digest : *source.tag);
  if (source.digest && root.descriptor.digest != *source.digest) {
    throw Fatal(ExitCode::nothing_pushed,
                source.str() + " served a manifest whose digest is " + root.descriptor.digest);
  }
  reader.image(root);

  // Referrers of the root and of every manifest it lists.
  std::vector<std::string> subjects = {root.descriptor.digest};
  if (oci::is_index_media_type(root.descriptor.media_type)) {
    auto index = oci::parse_index(root.bytes);
    if (index) {
      for (const auto& child : index->manifests) subjects.push_back(child.digest);
    }
  }
  std::vector<ReferrerEntry> referrers;
  for (const auto& subject : subjects) {
    auto found = reader.referrers(subject);
    referrers.insert(referrers.end(), found.begin(), found.end());
  }
  write_layout_index(layout, root.descriptor, referrers);
  printer.info(
      fmt::format("{}: {} with {} referrer(s)", source.str(), root.descriptor.digest, referrers.size()));

  auto opened = oci::Layout::open(layout);
  if (!opened) throw Fatal(ExitCode::internal, "the mirror layout is invalid: " + opened.error());
  auto image = oci::load_image(*opened, root.descriptor);
  if (!image) throw Fatal(ExitCode::nothing_pushed, "the source image is invalid: " + image.error());

  std::vector<push::Destination> targets;
  for (const auto& destination : destinations) {
    push::Destination target;
    target.registry = destination.registry;
    target.repository = destination.repository;
    if (destination.tag) target.tags.push_back(*destination.tag);
    target.client = &client_for(destination.registry);
    targets.push_back(std::move(target));
  }

  printer.step("Pushing to " + std::to_string(targets.size()) + " destination(s)");
  PrintingObserver observer(printer);
  auto results = push::push_image(*image, targets, observer, cancel_flag());
  if (cancel_requested()) return ExitCode::interrupted;

  // Referrers follow the image they refer to. A destination without the
  // referrers API gets the fallback tag index of each subject.
  std::vector<push::Destination> by_digest = targets;
  for (auto& target : by_digest) target.tags.clear();
  for (const auto& referrer : referrers) {
    auto referrer_image = oci::load_image(*opened, referrer.descriptor);
    if (!referrer_image)
      throw Fatal(ExitCode::nothing_pushed, "a source referrer is invalid: " + referrer_image.error());
    auto pushed = push::push_image(*referrer_image, by_digest, observer, cancel_flag());
    for (size_t i = 0; i < pushed.size(); ++i) {
      if (!results[i].ok) continue;
      if (!pushed[i].ok) {
        results[i].ok = false;
        results[i].error = pushed[i].error;
        continue;
      }
      auto& client = *by_digest[i].client;
      auto api = client.referrers_api(by_digest[i].repository, referrer.subject);
      if (api && api->has_value()) continue;
      auto added =
          api ? client.add_to_referrers_tag(by_digest[i].repository, referrer.subject, referrer.descriptor)
              : registry::Result<void>(std::unexpected(api.error()));
      if (!added) {
        results[i].ok = false;
        results[i].error = added.error().str();
      }
    }
  }

  int succeeded = 0;
  for (const auto& result : results) {
    std::string name = result.destination.registry + "/" + result.destination.repository;
    if (result.ok) {
      ++succeeded;
      printer.summary(
          fmt::format("{}: {} ({} uploaded, {} skipped, {} mounted){}", name, result.digest,
                      result.blobs_uploaded, result.blobs_skipped, result.blobs_mounted,
                      result.digest == root.descriptor.digest ? "" : ", differs from the source"));
    } else {
      printer.error("mirror failed", name + ": " + result.error);
    }
  }
  if (succeeded == static_cast<int>(results.size())) return ExitCode::ok;
  return succeeded == 0 ? ExitCode::nothing_pushed : ExitCode::partial;
}

}  // namespace multipush::pipeline
