#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "multipush/context/context.hpp"
#include "tags/template.hpp"

namespace multipush::tags {

// `ref` without a leading refs/heads/ (or refs/tags/); other refs are returned whole.
std::string branch_name(std::string_view ref);
std::string tag_name(std::string_view ref);

// The short form of context.sha: DOCKER_METADATA_SHORT_SHA_LENGTH characters
// (default 7), the whole sha when that is longer, "" for zero or less.
// Throws UsageError when the length is not a number.
std::string short_sha(const context::Context& context);

// The scope of metadata-action's global expressions: {{branch}}, {{tag}},
// {{sha}}, {{base_ref}}, {{is_default_branch}}, {{is_not_default_branch}},
// {{date 'FORMAT' tz='Zone'}} on `now` and {{commit_date ...}} on the commit
// date (or `now` when the context has none).
Scope global_scope(const context::Context& context, std::chrono::system_clock::time_point now);

// The date and commit_date helpers alone, which are all a schedule pattern can use.
Scope date_scope(const context::Context& context, std::chrono::system_clock::time_point now);

}  // namespace multipush::tags
