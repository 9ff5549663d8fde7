#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tags/template.hpp"

namespace multipush::tags {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds the labels (or annotations) output: `defaults` first, then each
// entry of `entries` rendered with `scope` and split at its first '='.
// Entries without '=' are dropped, a later key replaces an earlier one, and
// the result is sorted with collation_less. Throws TemplateError.
Labels build_labels(const Labels& defaults, const std::vector<std::string>& entries, const Scope& scope);

// Orders keys as JavaScript's String.prototype.localeCompare does (ICU root
// collation) for printable ASCII: punctuation, then digits, then letters,
// case-insensitive first, lowercase before uppercase on a tie.
// NOTE: characters outside printable ASCII sort after all of it, by byte
// value, which is not what ICU does.
bool collation_less(const std::string& a, const std::string& b);

}  // namespace multipush::tags
