#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipush/ref/reference.hpp"

namespace multipush::config {

enum class AttestationPolicy { keep, drop };
enum class Builder { automatic, buildx, buildah };
enum class PushWhen { automatic, always, never };
enum class Preflight { warn, strict, off };
enum class NotifyOn { failure, success, always };

// Where a value came from, for error messages: "multipush.yaml:12".
struct Location {
  std::filesystem::path file;
  int line = 0;  // 1-based; 0 when unknown
  std::string str() const;
};

struct Registry {
  std::string host;                           // normalised host[:port]
  std::string namespace_;                     // may be empty
  std::optional<std::string> username;
  std::optional<std::string> password;
  bool insecure = false;
  AttestationPolicy attestations = AttestationPolicy::keep;
  std::optional<std::uint64_t> chunk_size;    // bytes
  int max_connections = 4;
  Location location;
};

// One full image reference of a target's `images:` list.
struct ImageRef {
  ref::Reference reference;                   // without tag
  Location location;
};

struct Target {
  std::string name;
  std::filesystem::path context;              // absolute
  std::filesystem::path dockerfile;           // absolute
  std::string image;                          // name under each registry namespace
  std::vector<ImageRef> images;               // when set, replaces image x registries
  std::map<std::string, std::string> args;
  std::optional<std::string> target;          // Dockerfile stage
  std::vector<std::string> labels;            // "key=value"
  std::vector<std::string> annotations;       // "[types:]key=value"
  std::vector<std::string> platforms;
  Location location;
};

struct Build {
  Builder builder = Builder::automatic;
  std::vector<std::filesystem::path> bake_files;  // absolute
  std::vector<std::string> cache_from;
  std::vector<std::string> cache_to;
  std::vector<std::string> attest;
};

struct Push {
  PushWhen when = PushWhen::automatic;
  std::optional<std::string> stage;           // registry host
  Preflight preflight = Preflight::warn;
};

struct Notify {
  std::string type;                           // webhook, slack, dingtalk, feishu, wecom, teams, github-issue
  std::string url;
  std::optional<std::string> secret;
  NotifyOn on = NotifyOn::failure;
  std::vector<std::string> targets;           // empty: all
  std::vector<std::string> registries;        // empty: all
  Location location;
};

struct Log {
  std::filesystem::path dir;                  // absolute
  int keep = 50;
};

struct Config {
  std::optional<std::filesystem::path> file;  // absent in the mode without a config file
  std::filesystem::path base_dir;             // directory relative paths resolve against
  std::vector<std::string> platforms{"linux/amd64", "linux/arm64"};
  std::vector<Registry> registries;           // in file order
  std::vector<Target> targets;                // in file order
  std::vector<std::string> tags;              // metadata-action rules, one per entry
  std::vector<std::string> flavor;
  std::vector<std::string> labels;
  std::vector<std::string> annotations;
  Build build;
  Push push;
  std::vector<Notify> notify;
  Log log;
  std::string digest;                         // sha256 of the file bytes, for the run log

  const Registry* find_registry(const std::string& host) const;
  const Target* find_target(const std::string& name) const;
};

// Options that describe a single target when there is no config file.
struct Overrides {
  std::vector<std::string> images;            // --image, repeatable
  std::optional<std::string> context;         // --context
  std::optional<std::string> dockerfile;      // --dockerfile
  std::vector<std::string> platforms;         // --platform, repeatable or comma-separated
};

// Finds the config file: `explicit_file` (-f), else $MULTIPUSH_CONFIG, else
// ./multipush.yaml, else ./.github/multipush.yaml, relative to `cwd`.
// Returns std::nullopt when none exists. Throws UsageError when -f or
// $MULTIPUSH_CONFIG names a file that does not exist.
std::optional<std::filesystem::path> find_config(const std::optional<std::filesystem::path>& explicit_file,
                                                 const std::filesystem::path& cwd);

// Parses a config file. Throws UsageError naming the file, line, key and fix.
Config load_config(const std::filesystem::path& file);

// Parses config text as if read from `file` (for tests and stdin).
Config parse_config(const std::string& text, const std::filesystem::path& file);

// Builds the config of the mode without a config file: one target from
// `overrides`, with the registries named by --image. Throws UsageError when
// no --image is given.
Config config_from_overrides(const Overrides& overrides, const std::filesystem::path& cwd);

// Applies command-line overrides (--platform) to a loaded config.
void apply_overrides(Config& config, const Overrides& overrides);

// Parses a size such as "4MiB", "512KiB", "1GB" or "1048576" into bytes.
std::optional<std::uint64_t> parse_size(const std::string& text);

// Returns true when `platform` has the form os/arch[/variant], each part
// lower-case letters, digits or "_" ("linux/amd64", "linux/arm/v7").
bool is_valid_platform(std::string_view platform);

// Returns the repositories `target` is pushed to, without tags: its `images`
// when set, else `<registry>/<namespace>/<image>` for every registry, with
// the Docker Hub defaults of ref::parse() applied.
std::vector<ref::Reference> destinations(const Config& config, const Target& target);

}  // namespace multipush::config
