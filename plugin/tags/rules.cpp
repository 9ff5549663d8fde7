#include "tags/rules.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "multipush/util/error.hpp"
#include "tags/csv.hpp"

namespace multipush::tags {
namespace {

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::vector<std::string> split_all(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto at = text.find(separator, start);
    parts.push_back(text.substr(start, at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

std::vector<std::string> fields_or_throw(const std::string& entry, const std::string& kind) {
  auto fields = split_fields(entry);
  if (!fields) {
    throw UsageError("invalid " + kind + " \"" + entry + "\": " + fields.error() +
                     "; write one key=value list per line, quoting a whole field to keep a comma in it");
  }
  return *fields;
}

struct TypeInfo {
  const char* name;
  RuleType type;
  double default_priority;
};

// Default priorities decide the order in which rules produce tags.
constexpr TypeInfo kTypes[] = {
    {"schedule", RuleType::schedule, 1000}, {"semver", RuleType::semver, 900}, {"pep440", RuleType::pep440, 900},
    {"match", RuleType::match, 800},        {"edge", RuleType::edge, 700},     {"ref", RuleType::ref, 600},
    {"raw", RuleType::raw, 200},            {"sha", RuleType::sha, 100},
};

const TypeInfo& type_info(RuleType type) {
  for (const auto& info : kTypes) {
    if (info.type == type) return info;
  }
  throw std::logic_error("unknown RuleType");
}

[[noreturn]] void throw_rule_error(const Rule& rule, const std::string& problem) {
  throw UsageError("invalid tag rule \"" + rule.text + "\": " + problem);
}

void set_default(Rule& rule, const std::string& key, const std::string& value) {
  if (!rule.has(key)) rule.attributes[key] = value;
}

// Validates the attributes a type needs and fills in the type's defaults. An
// attribute that is present but empty counts as present.
void apply_type_defaults(Rule& rule) {
  switch (rule.type) {
    case RuleType::schedule:
      set_default(rule, "pattern", "nightly");
      break;
    case RuleType::semver:
    case RuleType::pep440:
      if (!rule.has("pattern")) {
        throw_rule_error(rule, std::string("type=") + type_info(rule.type).name +
                                   " needs a pattern, e.g. pattern={{version}}");
      }
      set_default(rule, "value", "");
      set_default(rule, "match", "");
      break;
    case RuleType::match:
      if (!rule.has("pattern")) throw_rule_error(rule, "type=match needs a pattern, e.g. pattern=\\d.\\d.\\d");
      set_default(rule, "group", "0");
      set_default(rule, "value", "");
      if (!parse_js_number(rule.at("group"))) {
        throw_rule_error(rule, "group must be a number, got \"" + rule.at("group") + "\"");
      }
      break;
    case RuleType::edge:
      set_default(rule, "branch", "");
      break;
    case RuleType::ref: {
      if (!rule.has("event")) throw_rule_error(rule, "type=ref needs event=branch, event=tag or event=pr");
      const auto& event = rule.at("event");
      if (event != "branch" && event != "tag" && event != "pr") {
        throw_rule_error(rule, "event must be branch, tag or pr, got \"" + event + "\"");
      }
      if (event == "pr") set_default(rule, "prefix", "pr-");
      break;
    }
    case RuleType::raw:
      if (!rule.has("value")) throw_rule_error(rule, "type=raw needs a value, e.g. type=raw,value=latest");
      break;
    case RuleType::sha:
      set_default(rule, "prefix", "sha-");
      set_default(rule, "format", "short");
      if (rule.at("format") != "short" && rule.at("format") != "long") {
        throw_rule_error(rule, "format must be short or long, got \"" + rule.at("format") + "\"");
      }
      break;
  }
  set_default(rule, "enable", "true");
  if (!rule.has("priority")) {
    rule.priority = type_info(rule.type).default_priority;
    return;
  }
  auto priority = parse_js_number(rule.at("priority"));
  // NOTE: the action accepts a non-numeric priority and sorts it in an
  // unspecified place; rejecting it keeps the order well defined.
  if (!priority) throw_rule_error(rule, "priority must be a number, got \"" + rule.at("priority") + "\"");
  rule.priority = *priority;
}

Rule parse_rule(const std::string& entry) {
  Rule rule;
  rule.text = entry;
  bool has_type = false;

  for (const auto& field : fields_or_throw(entry, "tag rule")) {
    auto equals = field.find('=');
    // A field without '=', or starting with '=', is the value.
    if (equals == std::string::npos || equals == 0) {
      rule.attributes["value"] = trim(field);
      continue;
    }
    std::string key = to_lower(trim(field.substr(0, equals)));
    std::string value = trim(field.substr(equals + 1));
    if (key != "type") {
      rule.attributes[key] = value;
      continue;
    }
    auto info = std::find_if(std::begin(kTypes), std::end(kTypes),
                             [&](const TypeInfo& candidate) { return value == candidate.name; });
    if (info == std::end(kTypes)) {
      throw_rule_error(rule, "unknown tag type \"" + value +
                                 "\"; use schedule, semver, pep440, match, edge, ref, raw or sha");
    }
    rule.type = info->type;
    has_type = true;
  }
  if (!has_type) rule.type = RuleType::raw;
  apply_type_defaults(rule);
  return rule;
}

}  // namespace

const std::string& Rule::at(const std::string& key) const {
  static const std::string empty;
  auto it = attributes.find(key);
  return it == attributes.end() ? empty : it->second;
}

std::optional<double> parse_js_number(const std::string& text) {
  std::string trimmed = trim(text);
  if (trimmed.empty()) return 0.0;

  int base = 0;
  if (trimmed.size() > 2 && trimmed[0] == '0') {
    char marker = static_cast<char>(std::tolower(static_cast<unsigned char>(trimmed[1])));
    if (marker == 'x') base = 16;
    if (marker == 'o') base = 8;
    if (marker == 'b') base = 2;
  }
  if (base != 0) {
    char* end = nullptr;
    unsigned long long value = std::strtoull(trimmed.c_str() + 2, &end, base);
    if (*end != '\0' || trimmed[2] == '-' || trimmed[2] == '+') return std::nullopt;
    return static_cast<double>(value);
  }

  std::string_view number = trimmed;
  if (number.starts_with('+') || number.starts_with('-')) number.remove_prefix(1);
  if (number == "Infinity") return trimmed[0] == '-' ? -INFINITY : INFINITY;
  // strtod also reads "inf", "nan" and hex floats, which Number() rejects.
  if (number.empty() || !(std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.')) {
    return std::nullopt;
  }
  if (number.find_first_of("xXpP") != std::string_view::npos) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(trimmed.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return value;
}

std::vector<Rule> parse_rules(const std::vector<std::string>& entries) {
  std::vector<Rule> rules;
  for (const auto& entry : entries) rules.push_back(parse_rule(entry));
  if (rules.empty()) {
    for (const char* entry : {"type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"}) {
      rules.push_back(parse_rule(entry));
    }
  }
  std::stable_sort(rules.begin(), rules.end(),
                   [](const Rule& a, const Rule& b) { return a.priority > b.priority; });
  return rules;
}

Flavor parse_flavor(const std::vector<std::string>& entries) {
  Flavor flavor;
  for (const auto& entry : entries) {
    // `onlatest` applies to the prefix or suffix set last in the same entry.
    bool* last_on_latest = nullptr;
    for (const auto& field : fields_or_throw(entry, "flavor entry")) {
      auto parts = split_all(field, '=');
      for (auto& part : parts) part = trim(part);
      if (parts.size() == 1) {
        throw UsageError("invalid flavor entry \"" + entry + "\": \"" + field +
                         "\" is not key=value; use latest=, prefix=, suffix= or onlatest=");
      }
      const std::string key = to_lower(parts[0]);
      // The action keeps only the text between the first and second '='.
      const std::string& value = parts[1];
      if (key == "latest") {
        if (value != "auto" && value != "true" && value != "false") {
          throw UsageError("invalid flavor entry \"" + entry + "\": latest must be auto, true or false, got \"" +
                           value + "\"");
        }
        flavor.latest = value;
      } else if (key == "prefix") {
        flavor.prefix = value;
        last_on_latest = &flavor.prefix_on_latest;
      } else if (key == "suffix") {
        flavor.suffix = value;
        last_on_latest = &flavor.suffix_on_latest;
      } else if (key == "onlatest") {
        if (value != "true" && value != "false") {
          throw UsageError("invalid flavor entry \"" + entry + "\": onlatest must be true or false, got \"" +
                           value + "\"");
        }
        if (last_on_latest != nullptr) *last_on_latest = value == "true";
      } else {
        throw UsageError("invalid flavor entry \"" + entry + "\": unknown key \"" + key +
                         "\"; use latest, prefix, suffix or onlatest");
      }
    }
  }
  return flavor;
}

std::vector<Image> parse_images(const std::vector<std::string>& entries) {
  std::vector<Image> images;
  if (entries.size() == 1) {
    auto fields = fields_or_throw(entries[0], "image entry");
    bool any_key = std::any_of(fields.begin(), fields.end(),
                               [](const std::string& field) { return field.find('=') != std::string::npos; });
    if (!any_key) {
      for (const auto& field : fields) images.push_back(Image{field, true});
      return images;
    }
  }

  for (const auto& entry : entries) {
    Image image;
    for (const auto& field : fields_or_throw(entry, "image entry")) {
      auto parts = split_all(field, '=');
      for (auto& part : parts) part = trim(part);
      if (parts.size() == 1) {
        image.name = parts[0];
        continue;
      }
      const std::string key = to_lower(parts[0]);
      if (key == "name") {
        image.name = parts[1];
      } else if (key == "enable") {
        if (parts[1] != "true" && parts[1] != "false") {
          throw UsageError("invalid image entry \"" + entry + "\": enable must be true or false, got \"" +
                           parts[1] + "\"");
        }
        image.enabled = parts[1] == "true";
      } else {
        throw UsageError("invalid image entry \"" + entry + "\": unknown key \"" + key + "\"; use name or enable");
      }
    }
    if (image.name.empty()) {
      throw UsageError("invalid image entry \"" + entry + "\": the image name is empty");
    }
    images.push_back(std::move(image));
  }
  return images;
}

}  // namespace multipush::tags
