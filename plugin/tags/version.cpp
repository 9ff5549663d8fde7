#include "tags/version.hpp"

#include <algorithm>
#include <optional>

#include "multipush/util/error.hpp"
#include "tags/expressions.hpp"
#include "tags/js_regex.hpp"
#include "tags/pep440.hpp"
#include "tags/semver.hpp"

namespace multipush::tags {
namespace {

bool is_tag_character(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
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
      case RuleType::pep440: apply_pep440(rule); break;
      case RuleType::match: apply_match(rule); break;
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

  // The version text of a semver, pep440 or match rule: the rendered value=,
  // else the tag name; nullopt when the rule does not apply to this ref.
  std::optional<std::string> version_input(const Rule& rule) const {
    const std::string& value = rule.at("value");
    if (!context_.ref.starts_with("refs/tags/") && value.empty()) return std::nullopt;
    return value.empty() ? tag_name(context_.ref) : render(value, global_);
  }

  // Applies a semver or pep440 rule's match= to `text`: capture group 1 of
  // the first match replaces it; no match leaves it as it is.
  void apply_version_match(const Rule& rule, std::string& text) {
    const std::string& pattern = rule.at("match");
    if (pattern.empty()) return;
    std::optional<std::vector<std::optional<std::string>>> found;
    try {
      found = JsRegex(pattern, "").match(text);
    } catch (const RegexError& e) {
      throw UsageError("invalid tag rule \"" + rule.text + "\": match=" + pattern + " is not a valid regular "
                       "expression: " + e.what());
    }
    if (!found) {
      warnings_.push_back("match=" + pattern + " does not match \"" + text + "\" in rule \"" + rule.text + "\"");
      return;
    }
    if (found->size() < 2 || !(*found)[1]) {
      throw UsageError("invalid tag rule \"" + rule.text + "\": match=" + pattern + " matches \"" + text +
                       "\" but has no capture group 1 that took part; put the version in parentheses, "
                       "e.g. match=v(\\d+\\.\\d+\\.\\d+)$");
    }
    text = *(*found)[1];
  }

  void apply_semver(const Rule& rule) {
    auto input = version_input(rule);
    if (!input) return;
    std::string version_text = *input;
    apply_version_match(rule, version_text);
    std::replace(version_text.begin(), version_text.end(), '/', '-');

    auto parsed = parse_semver(version_text);
    if (!parsed) {
      warnings_.push_back("\"" + version_text + "\" is not a valid semantic version, so rule \"" + rule.text +
                          "\" produced no tag");
      return;
    }

    auto identifiers = [](const std::vector<std::string>& parts, bool numbers) {
      std::vector<Value> items;
      for (const auto& part : parts) {
        bool numeric = numbers && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
        items.push_back(numeric ? Value::number(part) : Value::string(part));
      }
      return Value::array(std::move(items));
    };
    // The fields of node-semver's SemVer object, which the pattern renders against.
    Scope fields;
    fields.values = {{"major", Value::number(parsed->major)},
                     {"minor", Value::number(parsed->minor)},
                     {"patch", Value::number(parsed->patch)},
                     {"version", Value::string(parsed->version())},
                     {"raw", Value::string(version_text)},
                     {"prerelease", identifiers(parsed->prerelease, true)},
                     {"build", identifiers(parsed->build, false)},
                     {"loose", Value::boolean(true)},
                     {"includePrerelease", Value::boolean(false)},
                     {"options", Value::string("[object Object]")}};

    const std::string& pattern = rule.at("pattern");
    bool auto_latest = true;
    std::string rendered;
    if (!parsed->prerelease.empty()) {
      // A prerelease gets only the full version, unless the pattern is exactly {{raw}}.
      auto_latest = false;
      rendered = is_raw_statement(pattern) ? render(pattern, fields) : render("{{version}}", fields);
    } else {
      rendered = render(pattern, fields);
    }
    set_version(with_affixes(rendered, rule), auto_latest);
  }

  void apply_pep440(const Rule& rule) {
    auto input = version_input(rule);
    if (!input) return;
    std::string version_text = *input;
    apply_version_match(rule, version_text);
    std::replace(version_text.begin(), version_text.end(), '/', '-');

    auto parsed = parse_pep440(version_text);
    if (!parsed) {
      warnings_.push_back("\"" + version_text + "\" is not a valid PEP 440 version, so rule \"" + rule.text +
                          "\" produced no tag");
      return;
    }
    if (parsed->is_prerelease() || parsed->is_postrelease()) {
      // The pattern is not rendered for pre-, post- and dev-releases.
      std::string value = is_raw_statement(rule.at("pattern")) ? version_text : parsed->clean();
      set_version(with_affixes(value, rule), false);
      return;
    }
    Scope fields;
    fields.values = {{"raw", Value::string(version_text)},
                     {"version", Value::string(parsed->clean())},
                     {"major", Value::number(parsed->segment(0))},
                     {"minor", Value::number(parsed->segment(1))},
                     {"patch", Value::number(parsed->segment(2))}};
    set_version(with_affixes(render(rule.at("pattern"), fields), rule), true);
  }

  void apply_match(const Rule& rule) {
    auto input = version_input(rule);
    if (!input) return;
    const std::string& pattern = rule.at("pattern");

    // /body/flags is a regular expression literal; the last '/' ends the body.
    std::string body = pattern;
    std::string flags;
    auto last_slash = pattern.rfind('/');
    if (pattern.size() >= 3 && pattern.front() == '/' && last_slash != std::string::npos && last_slash >= 2) {
      body = pattern.substr(1, last_slash - 1);
      flags = pattern.substr(last_slash + 1);
    }
    std::optional<std::vector<std::optional<std::string>>> found;
    try {
      found = JsRegex(body, flags).match(*input);
    } catch (const RegexError& e) {
      throw UsageError("invalid tag rule \"" + rule.text + "\": pattern " + pattern + " is not a valid regular "
                       "expression: " + e.what());
    }
    if (!found) {
      warnings_.push_back("pattern " + pattern + " does not match \"" + *input + "\" in rule \"" + rule.text + "\"");
      return;
    }
    // The group is looked up by its text, so only a plain index such as 0 or 1 finds one.
    const std::string& group = rule.at("group");
    bool index = !group.empty() && group.find_first_not_of("0123456789") == std::string::npos &&
                 (group == "0" || group[0] != '0') && group.size() < 10;
    std::size_t at = index ? std::stoul(group) : 0;
    if (!index || at >= found->size() || !(*found)[at]) {
      warnings_.push_back("group " + group + " does not exist for pattern " + pattern + " in rule \"" + rule.text +
                          "\"");
      return;
    }
    set_version(with_affixes(*(*found)[at], rule), true);
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

bool is_raw_statement(std::string_view pattern) {
  try {
    return Template(pattern).is_single_name("raw");
  } catch (const TemplateError&) {
    return false;
  }
}

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
