#include "tags/expressions.hpp"

#include <cmath>

#include "multipush/util/error.hpp"
#include "tags/date_format.hpp"
#include "tags/rules.hpp"

namespace multipush::tags {
namespace {

using std::chrono::system_clock;

std::string strip_prefix(std::string_view text, std::string_view prefix) {
  if (text.starts_with(prefix)) text.remove_prefix(prefix.size());
  return std::string(text);
}

// A {{date}}-style helper formatting `time`: one positional argument (the
// moment format) and an optional tz= hash argument.
Helper date_helper(std::string name, system_clock::time_point time) {
  return [name = std::move(name), time](const HelperCall& call) -> std::string {
    if (call.positional.empty()) {
      throw TemplateError("{{" + name + "}} needs a format, e.g. {{" + name + " 'YYYYMMDD'}}");
    }
    if (call.positional.size() > 1) {
      throw TemplateError("{{" + name + "}} takes one format argument; quote a format that contains spaces");
    }
    std::string zone = "UTC";
    for (const auto& [key, value] : call.hash) {
      if (key != "tz") throw TemplateError("{{" + name + "}} has no option \"" + key + "\"; only tz= is allowed");
      if (value) zone = *value;
    }
    return format_moment(time, call.positional[0], zone);
  };
}

std::string base_ref(const context::Context& context) {
  const auto& payload = context.payload;
  if (context.ref.starts_with("refs/tags/")) {
    auto it = payload.find("base_ref");
    if (it != payload.end() && it->is_string()) return strip_prefix(it->get<std::string>(), "refs/heads/");
    return {};
  }
  if (context.ref.starts_with("refs/pull/")) {
    const nlohmann::json::json_pointer pointer("/pull_request/base/ref");
    if (payload.contains(pointer) && payload.at(pointer).is_string()) return payload.at(pointer).get<std::string>();
  }
  return {};
}

bool is_default_branch(const context::Context& context) {
  const std::string branch = strip_prefix(context.ref, "refs/heads/");
  if (branch.empty()) return false;
  if (!context.default_branch.empty() && context.default_branch == branch) return true;
  // The action treats these events as running on the default branch.
  for (const char* event : {"create", "discussion", "issues", "schedule"}) {
    if (context.event_name.find(event) != std::string::npos) return true;
  }
  return false;
}

system_clock::time_point commit_time(const context::Context& context, system_clock::time_point now) {
  if (auto parsed = parse_iso8601(context.commit_date)) return *parsed;
  return now;
}

}  // namespace

std::string branch_name(std::string_view ref) { return strip_prefix(ref, "refs/heads/"); }

std::string tag_name(std::string_view ref) { return strip_prefix(ref, "refs/tags/"); }

std::string short_sha(const context::Context& context) {
  const std::string& sha = context.sha;
  double length = 7;
  if (context.short_sha_length && !context.short_sha_length->empty()) {
    auto parsed = parse_js_number(*context.short_sha_length);
    if (!parsed) {
      throw UsageError("DOCKER_METADATA_SHORT_SHA_LENGTH must be a number, got \"" + *context.short_sha_length +
                       "\"");
    }
    length = *parsed;
  }
  if (length >= static_cast<double>(sha.size())) return sha;
  if (length <= 0 || std::isnan(length)) return {};
  return sha.substr(0, static_cast<std::size_t>(length));
}

Scope date_scope(const context::Context& context, system_clock::time_point now) {
  Scope scope;
  scope.helpers["date"] = date_helper("date", now);
  scope.helpers["commit_date"] = date_helper("commit_date", commit_time(context, now));
  return scope;
}

Scope global_scope(const context::Context& context, system_clock::time_point now) {
  Scope scope = date_scope(context, now);
  const bool is_default = is_default_branch(context);
  // The action passes these as functions, so {{branch 'x'}} ignores its
  // argument and {{#if branch}} calls them.
  auto constant = [](std::string value) { return [value = std::move(value)](const HelperCall&) { return value; }; };
  scope.helpers["branch"] = constant(context.ref.starts_with("refs/heads/") ? branch_name(context.ref) : "");
  scope.helpers["tag"] = constant(context.ref.starts_with("refs/tags/") ? tag_name(context.ref) : "");
  scope.helpers["sha"] = constant(short_sha(context));
  scope.helpers["base_ref"] = constant(base_ref(context));
  scope.helpers["is_default_branch"] = constant(is_default ? "true" : "false");
  scope.helpers["is_not_default_branch"] = constant(is_default ? "false" : "true");
  return scope;
}

}  // namespace multipush::tags
