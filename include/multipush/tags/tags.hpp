#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "multipush/context/context.hpp"

namespace multipush::tags {

// The docker/metadata-action inputs, one list entry per input line. Entries
// go through the action's list parsing: CSV quotes are removed and `#` starts
// a comment anywhere outside quotes (v5 behaviour).
struct Inputs {
  std::vector<std::string> images;       // metadata-action `images` entries (name[,enable=...])
  std::vector<std::string> tags;         // rules, one per entry ("type=semver,pattern={{version}}")
  std::vector<std::string> flavor;       // "latest=auto", "prefix=...", ...
  std::vector<std::string> labels;       // "key=value"
  std::vector<std::string> annotations;  // "key=value"
};

struct Metadata {
  std::string version;
  std::vector<std::string> tags;       // full "image:tag", image-major order as the action emits
  std::vector<std::string> tag_names;  // tags without image
  std::vector<std::pair<std::string, std::string>> labels;  // in the action's output order
  std::vector<std::string> annotations;  // "manifest:key=value", one block per annotation level
  std::vector<std::string> warnings;     // e.g. a tag that is not a valid tag
};

// Computes tags, labels, annotations and version as docker/metadata-action v5
// does, with the repository data taken from context.repository_data instead
// of the GitHub REST API. `now` feeds {{date}} and the `created` label unless
// SOURCE_DATE_EPOCH is set. Throws UsageError naming the rule and what is
// wrong in it for an invalid rule, flavor, image or template.
//
// NOTE: types `match` and `pep440`, semver `match=`, and Handlebars block
// helpers ({{#if}}) are not implemented yet; a rule that needs them throws
// UsageError saying so.
Metadata compute(const context::Context& context, const Inputs& inputs,
                 std::chrono::system_clock::time_point now);

}  // namespace multipush::tags
