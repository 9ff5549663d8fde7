#pragma once

// Typed access to a parsed YAML document with errors that name the file,
// the line and the key path. Private to the config module: yaml-cpp stays
// out of the public headers.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/expand.hpp"
#include "config/suggest.hpp"
#include "multipush/config/config.hpp"

namespace multipush::config {

// A value together with where it sits: `path` is the key path used in
// messages ("registries.ghcr.io.password", "notify[0].url").
struct Field {
  YAML::Node value;
  std::string path;
  int line = 0;  // 1-based
};

// The string forms that a list-valued key accepts besides a YAML list.
enum class ListForm {
  list_only,   // only a YAML list
  lines,       // or a string with one entry a line, as in GitHub Actions inputs
  commas,      // or a comma-separated string
};

class Reader {
 public:
  Reader(std::filesystem::path file, EnvLookup env);

  Location location(int line) const;

  // Throws UsageError as "file:line: path: message".
  [[noreturn]] void fail(const Field& field, const std::string& message) const;

  // Returns the entries of a map in file order. Rejects a value that is not a
  // map (null counts as an empty map), keys that are not strings, duplicate
  // keys, and keys missing from `allowed` unless `allowed` is empty.
  std::vector<std::pair<std::string, Field>> entries(const Field& map,
                                                     std::span<const std::string_view> allowed) const;

  // Returns the items of a list.
  std::vector<Field> items(const Field& list) const;

  // Returns a scalar with ${VAR} expanded.
  std::string string(const Field& field) const;
  bool boolean(const Field& field) const;
  long long integer(const Field& field, long long minimum, long long maximum) const;
  std::vector<std::string> strings(const Field& field, ListForm form) const;

  // Returns the value from `choices` that the scalar names.
  template <typename Value>
  Value choice(const Field& field, std::span<const std::pair<std::string_view, Value>> choices) const {
    std::string text = string(field);
    std::vector<std::string_view> names;
    for (const auto& [name, value] : choices) {
      if (name == text) return value;
      names.push_back(name);
    }
    fail(field, "unknown value \"" + text + "\"; accepted values: " + join_names(names));
  }

 private:
  std::filesystem::path file_;
  EnvLookup env_;
};

// Returns the key path of `key` under `parent`.
std::string child_path(const std::string& parent, std::string_view key);

// Returns the YAML type of `node` as a phrase for messages ("a list").
std::string describe_type(const YAML::Node& node);

}  // namespace multipush::config
