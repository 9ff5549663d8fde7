#include "config/reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "multipush/util/error.hpp"

namespace multipush::config {

namespace {

int line_of(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

std::string trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

}  // namespace

std::string child_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string describe_type(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "no value";
}

Reader::Reader(std::filesystem::path file, EnvLookup env) : file_(std::move(file)), env_(std::move(env)) {}

Location Reader::location(int line) const {
  return Location{file_, line};
}

void Reader::fail(const Field& field, const std::string& message) const {
  std::string text = location(field.line).str() + ": ";
  if (!field.path.empty()) text += field.path + ": ";
  throw UsageError(text + message);
}

std::vector<std::pair<std::string, Field>> Reader::entries(const Field& map,
                                                           std::span<const std::string_view> allowed) const {
  std::vector<std::pair<std::string, Field>> result;
  if (map.value.IsNull()) return result;
  if (!map.value.IsMap()) {
    fail(map, "expected a map of keys and values, found " + describe_type(map.value));
  }

  std::set<std::string> seen;
  for (const auto& entry : map.value) {
    int line = line_of(entry.first, map.line);
    if (!entry.first.IsScalar()) {
      fail(Field{entry.first, map.path, line}, "keys must be strings, found " + describe_type(entry.first));
    }
    std::string key = entry.first.Scalar();
    Field field{entry.second, child_path(map.path, key), line};
    if (!seen.insert(key).second) fail(field, "duplicate key; keep one of them");

    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string message = "unknown key \"" + key + "\"";
      if (auto suggestion = closest_match(key, allowed)) message += "; did you mean \"" + *suggestion + "\"?";
      message += " Valid keys: " + join_names(allowed);
      fail(field, message);
    }
    result.emplace_back(std::move(key), std::move(field));
  }
  return result;
}

std::vector<Field> Reader::items(const Field& list) const {
  std::vector<Field> result;
  if (list.value.IsNull()) return result;
  if (!list.value.IsSequence()) fail(list, "expected a list, found " + describe_type(list.value));
  std::size_t index = 0;
  for (const auto& item : list.value) {
    result.push_back(Field{item, list.path + "[" + std::to_string(index) + "]", line_of(item, list.line)});
    ++index;
  }
  return result;
}

std::string Reader::string(const Field& field) const {
  if (!field.value.IsScalar()) {
    fail(field, "expected a string, found " + describe_type(field.value) + "; quote the value if it is text");
  }
  auto expanded = expand_env(field.value.Scalar(), env_);
  if (!expanded) fail(field, expanded.error());
  return *expanded;
}

bool Reader::boolean(const Field& field) const {
  std::string text = to_lower(string(field));
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  fail(field, "\"" + text + "\" is not a boolean; write true or false");
}

long long Reader::integer(const Field& field, long long minimum, long long maximum) const {
  std::string text = string(field);
  const std::string range = "write a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    fail(field, "\"" + text + "\" is not an integer; " + range);
  }
  if (value < minimum || value > maximum) fail(field, std::to_string(value) + " is out of range; " + range);
  return value;
}

std::vector<std::string> Reader::strings(const Field& field, ListForm form) const {
  std::vector<std::string> result;
  if (field.value.IsScalar() && form != ListForm::list_only) {
    std::string text = string(field);
    char separator = form == ListForm::lines ? '\n' : ',';
    std::size_t start = 0;
    while (start <= text.size()) {
      auto end = text.find(separator, start);
      std::string entry = trim(std::string_view(text).substr(start, end == std::string::npos ? end : end - start));
      if (!entry.empty()) result.push_back(std::move(entry));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return result;
  }
  if (!field.value.IsSequence() && !field.value.IsNull()) {
    std::string accepted = form == ListForm::lines    ? "a list or a string with one entry a line"
                           : form == ListForm::commas ? "a list or a comma-separated string"
                                                      : "a list";
    fail(field, "expected " + accepted + ", found " + describe_type(field.value));
  }
  for (const Field& item : items(field)) result.push_back(string(item));
  return result;
}

}  // namespace multipush::config
