#include "multipush/verify/verify.hpp"

#include <map>
#include <optional>

#include "multipush/oci/descriptor.hpp"
#include "multipush/oci/manifest.hpp"
#include "multipush/output/redact.hpp"

namespace multipush::verify {

namespace {

std::string describe(const registry::RegistryError& error) {
  std::string text = error.message;
  if (text.empty()) {
    text = error.status == 0 ? "connection failed" : "HTTP " + std::to_string(error.status);
  }
  return text;
}

// Platforms of the manifest or index stored under `digest`, or an error.
struct PlatformList {
  std::vector<std::string> platforms;
  std::string error;
};

PlatformList read_platforms(registry::RegistryClient& client, const std::string& repository,
                            const std::string& digest) {
  PlatformList list;
  auto fetched = client.get_manifest(repository, digest);
  if (!fetched) {
    list.error = "reading manifest " + digest + " failed: " + describe(fetched.error());
    return list;
  }
  if (fetched->digest != digest) {
    list.error = "the registry served manifest " + digest + " with content of digest " + fetched->digest;
    return list;
  }
  if (!oci::is_index_media_type(fetched->media_type)) {
    // NOTE: the platform of a single-manifest image lives in its config
    // blob, which the registry client cannot read yet, so none is listed.
    return list;
  }
  auto index = oci::parse_index(fetched->bytes);
  if (!index) {
    list.error = "index " + digest + " is invalid: " + index.error();
    return list;
  }
  for (const auto& entry : index->manifests) {
    if (entry.platform && !entry.is_attestation()) {
      list.platforms.push_back(entry.platform->str());
    }
  }
  return list;
}

}  // namespace

std::vector<Check> verify_destination(registry::RegistryClient& client, const std::string& repository,
                                      const std::vector<std::string>& tags, const std::string& expected_digest) {
  std::vector<Check> checks;
  // Every tag normally points at the same digest, so each index is read once.
  std::map<std::string, PlatformList> platforms_by_digest;
  for (const auto& tag : tags) {
    Check check;
    check.registry = client.host();
    check.repository = repository;
    check.tag = tag;
    check.expected_digest = expected_digest;
    const std::string name = check.registry + "/" + repository + ":" + tag;

    auto head = client.head_manifest(repository, tag);
    if (!head) {
      check.error = output::redact("reading " + name + " failed: " + describe(head.error()));
      checks.push_back(std::move(check));
      continue;
    }
    if (!head->has_value()) {
      check.error = name + " was not found; push the image again";
      checks.push_back(std::move(check));
      continue;
    }
    check.actual_digest = **head;

    auto cached = platforms_by_digest.find(check.actual_digest);
    if (cached == platforms_by_digest.end()) {
      cached = platforms_by_digest
                   .emplace(check.actual_digest, read_platforms(client, repository, check.actual_digest))
                   .first;
    }
    check.platforms = cached->second.platforms;

    if (check.actual_digest != expected_digest) {
      check.error = name + " has digest " + check.actual_digest + " but " + expected_digest +
                    " was pushed; another push may have overwritten the tag";
    } else if (!cached->second.error.empty()) {
      check.error = output::redact(name + ": " + cached->second.error);
    }
    check.ok = check.error.empty();
    checks.push_back(std::move(check));
  }
  return checks;
}

}  // namespace multipush::verify
