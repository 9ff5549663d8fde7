#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "multipush/auth/credentials.hpp"
#include "multipush/oci/layout.hpp"
#include "multipush/oci/manifest.hpp"
#include "multipush/output/progress.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/pipeline/pipeline.hpp"
#include "multipush/push/push.hpp"
#include "multipush/ref/reference.hpp"
#include "multipush/registry/client.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/util/env.hpp"
#include "multipush/verify/verify.hpp"
#include "pipeline/common.hpp"
#include "pipeline/push_observer.hpp"

// `mirror SOURCE DEST...`: the source image's manifests, and those of its
// referrers, are fetched into memory once. The push engine then streams each
// blob from the source registry to every destination that lacks it, with no
// copy on disk.
namespace multipush::pipeline {
namespace {

namespace fs = std::filesystem;

// Reads the manifests of the mirrored image from the source repository.
class SourceReader {
 public:
  SourceReader(registry::RegistryClient& client, std::string repository)
      : client_(client), repository_(std::move(repository)) {}

  // Fetches a manifest by tag or digest, with its bytes exactly as served.
  oci::StoredManifest manifest(const std::string& reference) {
    auto fetched = client_.get_manifest(repository_, reference);
    if (!fetched) {
      throw Fatal(ExitCode::nothing_pushed,
                  "cannot read the source manifest " + name() + ":" + reference + ": " + fetched.error().str());
    }
    oci::StoredManifest stored;
    stored.descriptor.media_type =
        fetched->media_type.empty() ? oci::detect_media_type(fetched->bytes) : fetched->media_type;
    stored.descriptor.digest = fetched->digest;
    stored.descriptor.size = fetched->bytes.size();
    stored.bytes = std::move(fetched->bytes);
    return stored;
  }

  // Fetches the image manifest that `listed` describes and checks that the
  // source served the listed digest. The descriptor stays as listed, with
  // the served media type and size.
  oci::ChildManifest child(const oci::Descriptor& listed, const std::string& parent) {
    oci::StoredManifest stored = manifest(listed.digest);
    if (stored.descriptor.digest != listed.digest) {
      throw Fatal(ExitCode::nothing_pushed, name() + "@" + listed.digest + " served a manifest whose digest is " +
                                                stored.descriptor.digest + "; the source registry is inconsistent");
    }
    if (!oci::is_manifest_media_type(stored.descriptor.media_type)) {
      // NOTE: nested indexes, and referrers that are indexes, are not copied.
      throw Fatal(ExitCode::nothing_pushed,
                  name() + "@" + listed.digest + " (listed by " + parent + ") has media type " +
                      stored.descriptor.media_type + "; mirror copies only image manifests below the root");
    }
    auto parsed = oci::parse_manifest(stored.bytes);
    if (!parsed) {
      throw Fatal(ExitCode::nothing_pushed, "the source manifest " + name() + "@" + listed.digest +
                                                " is invalid: " + parsed.error());
    }
    oci::ChildManifest child;
    child.stored.descriptor = listed;
    child.stored.descriptor.media_type = stored.descriptor.media_type;
    child.stored.descriptor.size = stored.descriptor.size;
    child.stored.bytes = std::move(stored.bytes);
    child.manifest = std::move(*parsed);
    return child;
  }

  // Fetches the root and every manifest it lists into an image with no
  // layout directory.
  oci::Image image(const std::string& reference) {
    oci::Image image;
    image.root = manifest(reference);
    const std::string& media_type = image.root.descriptor.media_type;
    if (oci::is_manifest_media_type(media_type)) {
      auto parsed = oci::parse_manifest(image.root.bytes);
      if (!parsed) {
        throw Fatal(ExitCode::nothing_pushed, "the source manifest " + name() + ":" + reference +
                                                  " is invalid: " + parsed.error());
      }
      image.root_manifest = std::move(*parsed);
      return image;
    }
    if (!oci::is_index_media_type(media_type)) {
      throw Fatal(ExitCode::nothing_pushed, name() + ":" + reference + " has media type " + media_type +
                                                ", which is neither an image index nor an image manifest");
    }
    auto index = oci::parse_index(image.root.bytes);
    if (!index) {
      throw Fatal(ExitCode::nothing_pushed,
                  "the source index " + name() + ":" + reference + " is invalid: " + index.error());
    }
    image.root_is_index = true;
    for (const auto& entry : index->manifests) {
      oci::ChildManifest fetched = child(entry, image.digest());
      if (entry.is_attestation()) {
        image.attestations.push_back(std::move(fetched));
      } else {
        image.platforms.push_back(std::move(fetched));
      }
    }
    return image;
  }

  // Adds the referrers of the root and of every manifest it lists (from the
  // referrers API or the fallback tag) to `image.referrers`.
  void add_referrers(oci::Image& image) {
    std::vector<std::string> subjects = {image.digest()};
    for (const auto* children : {&image.platforms, &image.attestations}) {
      for (const auto& child : *children) {
        subjects.push_back(child.stored.descriptor.digest);
      }
    }
    std::set<std::string> seen;
    for (const auto& subject : subjects) {
      auto listed = client_.referrers(repository_, subject);
      if (!listed) {
        throw Fatal(ExitCode::nothing_pushed,
                    "cannot list the referrers of " + name() + "@" + subject + ": " + listed.error().str());
      }
      for (const auto& descriptor : listed->manifests) {
        if (!seen.insert(descriptor.digest).second) {
          continue;
        }
        oci::ChildManifest referrer = child(descriptor, "the referrers of " + subject);
        if (!referrer.manifest.subject) {
          // The fallback tag may list a manifest without a subject; it has
          // nothing to refer to, so it is not copied.
          spdlog::debug("{}@{} is listed as a referrer of {} but names no subject; skipped", name(),
                        descriptor.digest, subject);
          continue;
        }
        image.referrers.push_back(std::move(referrer));
      }
    }
  }

 private:
  std::string name() const { return client_.host() + "/" + repository_; }

  registry::RegistryClient& client_;
  std::string repository_;
};

// Streams blobs from the source repository with the registry client's blob
// GET, which checks size and digest and resumes after a dropped connection.
class SourceBlobs final : public push::BlobStore {
 public:
  SourceBlobs(registry::RegistryClient& client, std::string repository)
      : client_(client), repository_(std::move(repository)) {}

  std::expected<void, std::string> read(const oci::Descriptor& blob, const http::BodySink& sink) override {
    auto downloaded = client_.get_blob(repository_, blob.digest, blob.size, sink);
    if (!downloaded) {
      return std::unexpected("cannot download blob " + blob.digest + " from " + client_.host() + "/" + repository_ +
                             ": " + downloaded.error().str());
    }
    spdlog::debug("downloaded {} ({} bytes)", blob.digest, blob.size);
    return {};
  }

 private:
  registry::RegistryClient& client_;
  std::string repository_;
};

ref::Reference parse_reference(const std::string& text, const char* role) {
  auto parsed = ref::parse(text);
  if (!parsed)
    throw UsageError(fmt::format("the {} reference {} is invalid: {}", role, text, parsed.error()));
  return *parsed;
}

fs::path log_dir_for(const Options& options) {
  return options.log_dir ? fs::absolute(*options.log_dir) : options.cwd / ".multipush" / "runs";
}

// Reads every tag (or the digest, for a destination without a tag) back
// and returns the first mismatch, or an empty string.
std::string verify_result(const push::DestinationResult& result, report::RunLog& log) {
  const auto& destination = result.destination;
  std::vector<std::string> references = destination.tags;
  if (references.empty()) references.push_back(result.digest);
  std::string mismatch;
  for (const auto& check :
       verify::verify_destination(*destination.client, destination.repository, references, result.digest)) {
    log.write("verify", {{"registry", check.registry},
                         {"repository", check.repository},
                         {"tag", check.tag},
                         {"expected", check.expected_digest},
                         {"actual", check.actual_digest},
                         {"ok", check.ok}});
    if (!check.ok && mismatch.empty()) {
      mismatch = check.error.empty() ? check.tag + " serves " + check.actual_digest : check.error;
    }
  }
  return mismatch;
}

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

  report::RunLog log(log_dir_for(options), 50);
  const auto start = std::chrono::steady_clock::now();

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
      client_options.cancel = &cancel_flag();
      client_options.on_retry = [&printer, &log](const registry::RetryEvent& event) {
        printer.info(fmt::format("{} {} failed ({}), retrying in {} ms", event.method, event.url,
                                 event.reason, event.delay.count()));
        log.write("retry", {{"registry", event.host},
                            {"method", event.method},
                            {"url", event.url},
                            {"attempt", event.attempt},
                            {"reason", event.reason},
                            {"delay_ms", event.delay.count()}});
      };
      client = std::make_unique<registry::RegistryClient>(client_options);
    }
    return *client;
  };

  printer.step("Reading " + source.str());
  registry::RegistryClient& source_client = client_for(source.registry);
  SourceReader reader(source_client, source.repository);
  oci::Image image = reader.image(source.digest ? *source.digest : *source.tag);
  if (source.digest && image.digest() != *source.digest) {
    throw Fatal(ExitCode::nothing_pushed, source.str() + " served a manifest whose digest is " + image.digest());
  }
  reader.add_referrers(image);
  printer.info(fmt::format("{}: {} with {} referrer(s)", source.str(), image.digest(), image.referrers.size()));
  // A destination on the source's registry can mount every blob from the
  // source repository instead of receiving it again.
  image.root.descriptor.annotations[std::string(oci::annotation::kDistributionSourcePrefix) + source.registry] =
      source.repository;

  std::vector<push::Destination> targets;
  for (const auto& destination : destinations) {
    push::Destination target;
    target.registry = destination.registry;
    target.repository = destination.repository;
    if (destination.tag) target.tags.push_back(*destination.tag);
    target.client = &client_for(destination.registry);
    targets.push_back(std::move(target));
  }
  log.write("run_start", {{"command", "mirror"},
                          {"source", source.str()},
                          {"digest", image.digest()},
                          {"referrers", image.referrers.size()},
                          {"destinations", destination_texts}});
  printer.info(fmt::format("Run {} (log: {})", log.run_id(), log.path().string()));

  printer.step("Pushing to " + std::to_string(targets.size()) + " destination(s)");
  SourceBlobs blobs(source_client, source.repository);
  std::vector<push::DestinationResult> results;
  {
    output::Progress progress(printer);
    PushObserver observer("", printer, log, progress);
    results = push::push_image(image, blobs, targets, observer, cancel_flag());
  }
  printer.end_step();

  int succeeded = 0;
  bool mismatch = false;
  nlohmann::json registries = nlohmann::json::object();
  for (auto& result : results) {
    std::string name = result.destination.registry + "/" + result.destination.repository;
    std::string status = result.ok ? "pushed" : "failed";
    if (result.ok && !cancel_requested()) {
      if (std::string error = verify_result(result, log); error.empty()) {
        status = "verified";
      } else {
        status = "digest mismatch";
        result.error = error;
        mismatch = true;
      }
    }
    if (result.ok && status != "digest mismatch") {
      ++succeeded;
      printer.summary(fmt::format("{}: {} {} ({} uploaded, {} skipped, {} mounted){}", name, status, result.digest,
                                  result.blobs_uploaded, result.blobs_skipped, result.blobs_mounted,
                                  result.digest == image.digest() ? "" : ", differs from the source"));
    } else {
      printer.error("mirror failed", name + ": " + result.error);
    }
    registries[name] = {{"tags", result.destination.tags},
                        {"status", status},
                        {"digest", result.ok ? result.digest : ""},
                        {"blobs_uploaded", result.blobs_uploaded},
                        {"blobs_mounted", result.blobs_mounted},
                        {"blobs_skipped", result.blobs_skipped},
                        {"error", result.error}};
  }

  ExitCode code = ExitCode::ok;
  if (cancel_requested()) {
    code = ExitCode::interrupted;
  } else if (mismatch) {
    code = ExitCode::verify_failed;
  } else if (succeeded != static_cast<int>(results.size())) {
    code = succeeded == 0 ? ExitCode::nothing_pushed : ExitCode::partial;
  }
  const char* run_status = "failed";
  switch (code) {
    case ExitCode::ok: run_status = "success"; break;
    case ExitCode::partial: run_status = "partial"; break;
    case ExitCode::verify_failed: run_status = "digest mismatch"; break;
    case ExitCode::interrupted: run_status = "interrupted"; break;
    default: break;
  }
  log.write("run_end", {{"status", run_status},
                        {"exit_code", static_cast<int>(code)},
                        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
                        {"registries", registries}});
  return code;
}

}  // namespace multipush::pipeline
