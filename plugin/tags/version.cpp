#include "tags/version.hpp"

#include <algorithm>
#include <optional>

#include "multipush/util/error.hpp"
#include "tags/expressions.hpp"
#include "tags/semver.hpp"

namespace multipush::tags {
namespace {

bool is_tag_character(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += separator;
    joined += parts[i];
  }
  return joined;
}

// One pass of the version loop over the sorted rules.
class VersionBuilder {
 public:
  VersionBuilder(const Flavor& flavor, const context::Context& context, const Scope& global, const Scope& dates)
      : flavor_(flavor), context_(context), global_(global), dates_(dates) {}

  void apply(const Rule& rule) {
    std::string enable = render(rule.at("enable"), global_);
    if (enable != "true" && enable != "false") {
      throw UsageError("invalid tag rule \"" + rule.text + "\": enable must render to true or false, got \"" +
                       enable + "\"");
    }
    if (enable == "false") return;

    switch (rule.type) {
      case RuleType::schedule: apply_schedule(rule); break;
      case RuleType::semver: apply_semver(rule); break;
      case RuleType::edge: apply_edge(rule); break;
      case RuleType::ref: apply_ref(rule); break;
      case RuleType::raw: set_version(with_affixes(render(rule.at("value"), global_), rule), false); break;
      case RuleType::sha: apply_sha(rule); break;
      case RuleType::pep440:
      case RuleType::match:
        throw UsageError("tag rule \"" + rule.text + "\" is not supported yet: types pep440 and match are "
                         "still missing; use type=semver or type=raw");
    }
  }

  Version finish() && {
    Version version;
    version.main = main_.value_or("");
    for (const auto& value : partial_) {
      if (std::find(version.partial.begin(), version.partial.end(), value) == version.partial.end()) {
        version.partial.push_back(value);
      }
    }
    version.latest = latest_.value_or(false);
    version.warnings = std::move(warnings_);
    return version;
  }

 private:
  void apply_schedule(const Rule& rule) {
    if (context_.event_name.find("schedule") == std::string::npos) return;
    // The schedule pattern can use only the date helpers, so {{branch}} renders "".
    set_version(with_affixes(render(rule.at("pattern"), dates_), rule), false);
  }

  void apply_semver(const Rule& rule) {
    const std::string& value = rule.at("value");
    if (!context_.ref.starts_with("refs/tags/") && value.empty()) return;

    std::string version_text = value.empty() ? tag_name(context_.ref) : render(value, global_);
    if (!rule.at("match").empty()) {
      throw UsageError("tag rule \"" + rule.text + "\" is not supported yet: the match= attribute of "
                       "type=semver is still missing; use value= with the version instead");
    }
    std::replace(version_text.begin(), version_text.end(), '/', '-');

    auto parsed = parse_semver(version_text);
    if (!parsed) {
      warnings_.push_back("\"" + version_text + "\" is not a valid semantic version, so rule \"" + rule.text +
                          "\" produced no tag");
      return;
    }

    Scope fields;
    fields.variables = {{"major", parsed->major},
                        {"minor", parsed->minor},
                        {"patch", parsed->patch},
                        {"version", parsed->version()},
                        {"raw", version_text},
                        {"prerelease", join(parsed->prerelease, ",")},
                        {"build", join(parsed->build, ",")}};

    Template pattern(rule.at("pattern"));
    bool auto_latest = true;
    std::string rendered;
    if (!parsed->prerelease.empty()) {
      // A prerelease gets only the full version, unless the pattern is exactly {{raw}}.
      auto_latest = false;
      rendered = pattern.is_single_name("raw") ? pattern.render(fields) : Template("{{version}}").render(fields);
    } else {
      rendered = pattern.render(fields);
    }
    set_version(with_affixes(rendered, rule), auto_latest);
  }

  void apply_edge(const Rule& rule) {
    if (!context_.ref.starts_with("refs/heads/")) return;
    std::string branch = rule.at("branch");
    if (branch.empty()) {
      auto it = context_.repository_data.find("default_branch");
      if (it == context_.repository_data.end() || !it->is_string()) return;
      branch = it->get<std::string>();
    }
    if (branch != branch_name(context_.ref)) return;
    set_version(with_affixes("edge", rule), false);
  }

  void apply_ref(const Rule& rule) {
    const std::string& event = rule.at("event");
    const std::string& ref = context_.ref;
    if (event == "branch" && ref.starts_with("refs/heads/")) {
      set_version(with_affixes(branch_name(ref), rule), false);
    } else if (event == "tag" && ref.starts_with("refs/tags/")) {
      set_version(with_affixes(tag_name(ref), rule), true);
    } else if (event == "pr" && ref.starts_with("refs/pull/")) {
      std::string number = ref.substr(std::string_view("refs/pull/").size());
      if (number.ends_with("/merge")) number.resize(number.size() - std::string_view("/merge").size());
      set_version(with_affixes(number, rule), false);
    }
  }

  void apply_sha(const Rule& rule) {
    if (context_.sha.empty()) return;
    set_version(with_affixes(rule.at("format") == "long" ? context_.sha : short_sha(context_), rule), false);
  }

  // Adds the rule's prefix and suffix, or else the flavor's. An empty
  // prefix= or suffix= on the rule cancels the flavor's.
  std::string with_affixes(const std::string& value, const Rule& rule) const {
    std::string prefix = rule.has("prefix")     ? render(rule.at("prefix"), global_)
                         : flavor_.prefix.empty() ? ""
                                                  : render(flavor_.prefix, global_);
    std::string suffix = rule.has("suffix")     ? render(rule.at("suffix"), global_)
                         : flavor_.suffix.empty() ? ""
                                                  : render(flavor_.suffix, global_);
    return prefix + value + suffix;
  }

  void set_version(const std::string& value, bool auto_latest) {
    if (value.empty()) return;
    std::string tag = sanitize_tag(value);
    if (!main_) {
      main_ = tag;
    } else if (tag != *main_) {
      partial_.push_back(tag);
    }
    if (!latest_) latest_ = flavor_.latest == "auto" ? auto_latest : flavor_.latest == "true";
  }

  const Flavor& flavor_;
  const context::Context& context_;
  const Scope& global_;
  const Scope& dates_;
  std::optional<std::string> main_;
  std::vector<std::string> partial_;
  std::optional<bool> latest_;
  std::vector<std::string> warnings_;
};

}  // namespace

std::string sanitize_tag(std::string_view value) {
  std::string tag;
  bool in_invalid_run = false;
  for (char c : value) {
    if (is_tag_character(static_cast<unsigned char>(c))) {
      tag.push_back(c);
      in_invalid_run = false;
    } else if (!in_invalid_run) {
      tag.push_back('-');
      in_invalid_run = true;
    }
  }
  return tag;
}

Version compute_version(const std::vector<Rule>& rules, const Flavor& flavor, const context::Context& context,
                        const Scope& global, const Scope& dates) {
  VersionBuilder builder(flavor, context, global, dates);
  for (const auto& rule : rules) {
    try {
      builder.apply(rule);
    } catch (const TemplateError& e) {
      throw UsageError("invalid tag rule \"" + rule.text + "\": " + e.what());
    }
  }
  return std::move(builder).finish();
}

}  // namespace multipush::tags
