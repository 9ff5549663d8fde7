#pragma once

#include <string>
#include <vector>

#include "multipush/registry/client.hpp"

// Reading pushed tags back from a registry and comparing their digests.
namespace multipush::verify {

struct Check {
  std::string registry;
  std::string repository;
  std::string tag;
  std::string expected_digest;
  std::string actual_digest;            // empty when the tag was not found or could not be read
  bool ok = false;
  std::string error;                    // why the check failed, redacted
  std::vector<std::string> platforms;   // real platforms of the index ("linux/amd64"), attestations left out
};

// Reads each tag back: a HEAD with the full Accept list gives its digest,
// then one GET of the index by digest lists its platforms. Returns one check
// per tag, in the order given.
std::vector<Check> verify_destination(registry::RegistryClient& client, const std::string& repository,
                                      const std::vector<std::string>& tags, const std::string& expected_digest);

}  // namespace multipush::verify
