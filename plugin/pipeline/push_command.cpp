// The `push` command: one image from an OCI layout (a directory or a tar
// file) to every --to reference, without a config file. Without --to, it
// pushes the targets of multipush.yaml (push_built.cpp).
#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "multipush/auth/credentials.hpp"
#include "multipush/context/context.hpp"
#include "multipush/output/progress.hpp"
#include "multipush/pipeline/cancel.hpp"
#include "multipush/pipeline/pipeline.hpp"
#include "multipush/ref/reference.hpp"
#include "multipush/report/github.hpp"
#include "multipush/report/run_log.hpp"
#include "multipush/report/summary.hpp"
#include "multipush/util/env.hpp"
#include "multipush/verify/verify.hpp"
#include "pipeline/common.hpp"
#include "pipeline/execute.hpp"
#include "pipeline/push_observer.hpp"

namespace multipush::pipeline {
namespace {

namespace fs = std::filesystem;

// Extracts the regular files of an OCI layout tar into `directory`.
// Entries with absolute paths or ".." are rejected, so that the archive
// cannot write outside `directory`.
void extract_layout_tar(const fs::path& tar, const fs::path& directory) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), &archive_read_free);
  archive_read_support_format_tar(reader.get());
  archive_read_support_filter_all(reader.get());
  if (archive_read_open_filename(reader.get(), tar.c_str(), 64 * 1024) != ARCHIVE_OK) {
    throw UsageError(fmt::format("--layout {}: cannot read it as a tar file: {}", tar.string(),
                                 archive_error_string(reader.get())));
  }
  archive_entry* entry = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    const fs::path name = fs::path(archive_entry_pathname(entry)).lexically_normal();
    if (name.is_absolute() || (!name.empty() && *name.begin() == "..")) {
      throw UsageError(fmt::format("--layout {}: entry \"{}\" points outside the archive; use an OCI layout tar "
                                   "as `docker buildx build --output type=oci` writes it",
                                   tar.string(), name.string()));
    }
    if (archive_entry_filetype(entry) != AE_IFREG) {
      continue;
    }
    const fs::path target = directory / name;
    fs::create_directories(target.parent_path());
    std::unique_ptr<FILE, decltype(&std::fclose)> out(std::fopen(target.c_str(), "wb"), &std::fclose);
    if (!out) {
      throw Fatal(ExitCode::internal, fmt::format("cannot write {} while unpacking {}", target.string(), tar.string()));
    }
    std::array<char, 64 * 1024> buffer{};
    la_ssize_t count = 0;
    while ((count = archive_read_data(reader.get(), buffer.data(), buffer.size())) > 0) {
      if (std::fwrite(buffer.data(), 1, static_cast<size_t>(count), out.get()) != static_cast<size_t>(count)) {
        throw Fatal(ExitCode::internal, fmt::format("cannot write {} while unpacking {}", target.string(), tar.string()));
      }
    }
    if (count < 0) {
      throw UsageError(fmt::format("--layout {}: the tar file is damaged: {}", tar.string(),
                                   archive_error_string(reader.get())));
    }
  }
  if (status != ARCHIVE_EOF) {
    throw UsageError(fmt::format("--layout {}: the tar file is damaged: {}", tar.string(),
                                 archive_error_string(reader.get())));
  }
}

struct ParsedDestination {
  ref::Reference reference;
  std::string text;  // as given on the command line
};

std::vector<ParsedDestination> parse_destinations(const std::vector<std::string>& texts, const oci::Image& image) {
  std::vector<ParsedDestination> parsed;
  for (const auto& text : texts) {
    auto reference = ref::parse(text);
    if (!reference) {
      throw UsageError(fmt::format("--to {}: {}; give an image reference such as ghcr.io/acme/app:1.2.3", text,
                                   reference.error()));
    }
    if (reference->digest && *reference->digest != image.digest()) {
      throw UsageError(fmt::format("--to {}: the digest differs from the image's digest {}; leave the digest out",
                                   text, image.digest()));
    }
    parsed.push_back({*reference, text});
  }
  return parsed;
}

using ClientMap = std::map<std::string, std::unique_ptr<registry::RegistryClient>>;

// One client per registry host, with credentials from the docker config.
ClientMap open_push_clients(const std::vector<ParsedDestination>& destinations, const Options& options) {
  ClientMap clients;
  const fs::path certs_dir = util::get_env_or("MULTIPUSH_CERTS_DIR", "/etc/docker/certs.d");
  for (const auto& destination : destinations) {
    const std::string& host = destination.reference.registry;
    if (clients.contains(host)) {
      continue;
    }
    registry::Options client_options;
    client_options.host = host;
    client_options.credentials = auth::from_docker_config(host, auth::docker_config_dir(options.docker.config_dir));
    client_options.certs_dir = certs_dir;
    client_options.cancel = &cancel_flag();
    clients.emplace(host, std::make_unique<registry::RegistryClient>(client_options));
  }
  return clients;
}

fs::path log_dir_for(const Options& options) {
  return options.log_dir ? fs::absolute(*options.log_dir) : options.cwd / ".multipush" / "runs";
}

// Picks the exit code from the results: every destination verified,
// some failed, all failed, or a digest mismatch.
ExitCode exit_code_for(const report::RunSummary& summary) {
  int failed = 0;
  bool mismatch = false;
  for (const auto& outcome : summary.outcomes) {
    if (outcome.status == "digest mismatch") mismatch = true;
    if (outcome.status == "failed") ++failed;
  }
  if (mismatch) return ExitCode::verify_failed;
  if (failed == 0) return ExitCode::ok;
  return failed == static_cast<int>(summary.outcomes.size()) ? ExitCode::nothing_pushed : ExitCode::partial;
}

std::string status_name(ExitCode code) {
  switch (code) {
    case ExitCode::ok: return "success";
    case ExitCode::partial: return "partial";
    case ExitCode::verify_failed: return "digest mismatch";
    default: return "failed";
  }
}

// Applies --push (default auto) to the GitHub Actions event: auto never pushes
// on pull-request-like events. Outside Actions there is no event to check.
bool push_allowed(const Options& options, std::string& reason) {
  config::PushWhen when = options.push.value_or(config::PushWhen::automatic);
  if (when == config::PushWhen::always) return true;
  if (when == config::PushWhen::never) {
    reason = "--push=never";
    return false;
  }
  if (util::get_env("GITHUB_ACTIONS") != "true") return true;
  context::Context context = context::from_workflow();
  if (!context::is_pull_request_like(context)) return true;
  reason = fmt::format("\"{}\" events never push unless --push=always", context.event_name);
  return false;
}

}  // namespace

ExitCode push(const Options& options, const PushRequest& request) {
  if (!request.destinations.empty() && !options.targets.empty()) {
    throw UsageError(fmt::format(
        "push takes either TARGET... or --to REF, not both (targets: {}); use `push TARGET...` to push targets of "
        "multipush.yaml to their registries, or `push --layout PATH --to REF...` to push one layout",
        fmt::join(options.targets, " ")));
  }
  if (request.destinations.empty()) {
    if (request.layout.empty() && !request.ref_name.empty()) {
      throw UsageError(fmt::format("--ref {} needs --layout: the layouts that `build` recorded are selected by "
                                   "digest; leave out --ref",
                                   request.ref_name));
    }
    return push_built(options, request.layout, request.ref_name);
  }
  configure_debug_log(options);
  output::Printer printer(printer_options(options));
  if (request.layout.empty()) {
    throw UsageError("push --to REF needs --layout PATH, an OCI layout directory or tar file; to push the "
                     "targets of multipush.yaml as `build` left them, leave out --to");
  }
  const fs::path layout = fs::absolute(options.cwd / request.layout);
  if (!fs::exists(layout)) {
    throw UsageError(fmt::format("--layout {}: no such file or directory", request.layout.string()));
  }

  report::RunLog log(log_dir_for(options), 50);
  const auto start = std::chrono::steady_clock::now();
  std::optional<WorkDir> unpacked;
  fs::path directory = layout;
  if (!fs::is_directory(layout)) {
    // NOTE: a tar layout is unpacked into a temporary directory before the
    // push, so it needs as much free space as the archive.
    unpacked.emplace(log.run_id());
    extract_layout_tar(layout, unpacked->path());
    directory = unpacked->path();
  }
  auto image = oci::load_image(directory, oci::ImageSelector{"", request.ref_name});
  if (!image) {
    throw UsageError(fmt::format("--layout {}: {}{}", request.layout.string(), image.error(),
                                 request.ref_name.empty() ? "; pick one with --ref NAME" : ""));
  }
  const auto parsed = parse_destinations(request.destinations, *image);

  // The pull-request rule of the pipeline holds for every command that
  // writes to a registry: on such events nothing is pushed unless
  // --push=always.
  if (std::string reason; !push_allowed(options, reason)) {
    std::string plan = fmt::format("Not pushing {}: {}\n", image->digest(), reason);
    for (const auto& destination : request.destinations) plan += "  would push to " + destination + "\n";
    printer.result(plan);
    return ExitCode::ok;
  }
  ClientMap clients = open_push_clients(parsed, options);

  std::vector<push::Destination> destinations;
  for (const auto& destination : parsed) {
    push::Destination entry;
    entry.registry = destination.reference.registry;
    entry.repository = destination.reference.repository;
    if (destination.reference.tag) entry.tags.push_back(*destination.reference.tag);
    entry.client = clients.at(entry.registry).get();
    destinations.push_back(std::move(entry));
  }
  log.write("run_start", {{"command", "push"},
                          {"layout", layout.string()},
                          {"digest", image->digest()},
                          {"destinations", request.destinations}});
  printer.info(fmt::format("Run {} (log: {})", log.run_id(), log.path().string()));

  printer.step("Pushing");
  std::vector<push::DestinationResult> results;
  {
    output::Progress progress(printer);
    PushObserver observer("", printer, log, progress);
    results = push::push_image(*image, destinations, observer, cancel_flag());
  }
  printer.end_step();

  report::RunSummary summary;
  summary.run_id = log.run_id();
  std::string notes;
  nlohmann::json registries = nlohmann::json::object();
  for (const auto& result : results) {
    const auto& destination = result.destination;
    report::Outcome outcome{"image", destination.registry, destination.repository, destination.tags,
                            result.ok ? result.digest : "", result.ok ? "pushed" : "failed", result.error};
    if (result.ok && !cancel_requested()) {
      std::vector<std::string> references = destination.tags;
      if (references.empty()) references.push_back(result.digest);
      for (const auto& check : verify::verify_destination(*destination.client, destination.repository, references,
                                                          result.digest)) {
        log.write("verify", {{"registry", check.registry},
                             {"repository", check.repository},
                             {"tag", check.tag},
                             {"expected", check.expected_digest},
                             {"actual", check.actual_digest},
                             {"ok", check.ok}});
        if (!check.ok) {
          outcome.status = "digest mismatch";
          outcome.error = check.error.empty() ? check.tag + " serves " + check.actual_digest : check.error;
        }
      }
      if (outcome.status == "pushed") outcome.status = "verified";
    }
    if (!result.note.empty()) {
      notes += fmt::format("{}/{}: {}\n", destination.registry, destination.repository, result.note);
    }
    registries[destination.registry + "/" + destination.repository] = {{"tags", destination.tags},
                                                                       {"status", outcome.status},
                                                                       {"digest", outcome.digest},
                                                                       {"note", result.note},
                                                                       {"blobs_uploaded", result.blobs_uploaded},
                                                                       {"blobs_mounted", result.blobs_mounted},
                                                                       {"blobs_skipped", result.blobs_skipped},
                                                                       {"error", result.error}};
    if (report::is_failed_status(outcome.status)) summary.failed_registries.push_back(destination.registry);
    summary.outcomes.push_back(std::move(outcome));
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ExitCode code = cancel_requested() ? ExitCode::interrupted : exit_code_for(summary);
  summary.exit_code = static_cast<int>(code);
  summary.status = cancel_requested() ? "interrupted" : status_name(code);

  printer.summary(report::summary_table(summary) + notes);
  if (options.metadata_file) {
    report::write_metadata_file(*options.metadata_file,
                                {{"image", {{"digest", image->digest()},
                                            {"platforms", image->platform_names()},
                                            {"registries", registries}}}});
  }
  log.write("run_end", {{"status", summary.status},
                        {"exit_code", summary.exit_code},
                        {"seconds", summary.seconds},
                        {"registries", registries}});
  return code;
}

}  // namespace multipush::pipeline
