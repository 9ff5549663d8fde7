#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "multipush/context/context.hpp"
#include "tags/rules.hpp"
#include "tags/template.hpp"

namespace multipush::tags {

// The tag values the rules produced for one context, before images are added.
struct Version {
  std::string main;                  // first value in priority order; "" when none
  std::vector<std::string> partial;  // further values, without duplicates
  bool latest = false;               // whether a latest tag follows
  std::vector<std::string> warnings;
};

// Runs the sorted `rules` against the context, as metadata-action's version
// loop does: the first rule that yields a value sets `main` and decides
// `latest`. Throws UsageError naming the rule when one is invalid or uses a
// feature that is not implemented.
Version compute_version(const std::vector<Rule>& rules, const Flavor& flavor, const context::Context& context,
                        const Scope& global, const Scope& dates);

// True when `pattern` is exactly one {{raw}} expression, as metadata-action's
// "pure raw statement" check; false for a pattern that does not parse.
bool is_raw_statement(std::string_view pattern);

// Replaces each run of characters outside [A-Za-z0-9._-] with one '-'.
std::string sanitize_tag(std::string_view value);

}  // namespace multipush::tags
