// multipush.yaml: schema, defaults and validation.

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <utility>

#include "config/paths.hpp"
#include "config/reader.hpp"
#include "multipush/config/config.hpp"
#include "multipush/oci/digest.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"

namespace multipush::config {

namespace {

constexpr std::string_view kTopLevelKeys[] = {"platforms", "registries", "targets", "tags",   "flavor", "labels",
                                              "annotations", "build",    "push",    "notify", "log"};
constexpr std::string_view kRegistryKeys[] = {"namespace",    "username",   "password",       "insecure",
                                              "attestations", "chunk-size", "max-connections"};
constexpr std::string_view kTargetKeys[] = {"context", "dockerfile", "image",       "images",   "args",
                                            "target",  "labels",     "annotations", "platforms"};
constexpr std::string_view kBuildKeys[] = {"builder", "bake-files", "cache-from", "cache-to", "attest"};
constexpr std::string_view kPushKeys[] = {"when", "stage", "preflight"};
constexpr std::string_view kNotifyKeys[] = {"type", "url", "secret", "on", "targets", "registries"};
constexpr std::string_view kLogKeys[] = {"dir", "keep"};
constexpr std::string_view kNotifyTypes[] = {"webhook", "slack", "dingtalk", "feishu", "wecom", "teams", "github-issue"};

constexpr std::pair<std::string_view, AttestationPolicy> kAttestationPolicies[] = {
    {"keep", AttestationPolicy::keep}, {"drop", AttestationPolicy::drop}};
constexpr std::pair<std::string_view, Builder> kBuilders[] = {
    {"auto", Builder::automatic}, {"buildx", Builder::buildx}, {"buildah", Builder::buildah}};
constexpr std::pair<std::string_view, PushWhen> kPushWhen[] = {
    {"auto", PushWhen::automatic}, {"always", PushWhen::always}, {"never", PushWhen::never}};
constexpr std::pair<std::string_view, Preflight> kPreflight[] = {
    {"warn", Preflight::warn}, {"strict", Preflight::strict}, {"off", Preflight::off}};
constexpr std::pair<std::string_view, NotifyOn> kNotifyOn[] = {
    {"failure", NotifyOn::failure}, {"success", NotifyOn::success}, {"always", NotifyOn::always}};

bool has_upper(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](unsigned char c) { return std::isupper(c) != 0; });
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

bool is_valid_target_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-';
  });
}

// Returns advice for a YAML syntax error on line `line` (0-based) when that
// line has an unquoted ${VAR}: inside { } or [ ] the braces of a plain
// scalar end the collection, so such values need quotes.
std::string flow_hint(const std::string& text, int line) {
  std::size_t start = 0;
  for (int i = 0; i < line && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos) return {};
  std::string_view line_text = std::string_view(text).substr(start, text.find('\n', start) - start);
  if (line_text.find("${") == std::string_view::npos) return {};
  return "; inside { } or [ ], quote values that contain ${VAR}, as in password: \"${TOKEN}\"";
}

class ConfigParser {
 public:
  ConfigParser(const std::filesystem::path& file) : reader_(file, util::get_env) {}

  Config parse(const std::string& text, const std::filesystem::path& file);

 private:
  std::vector<std::string> platforms(const Field& field) const;
  void registries(const Field& field);
  Registry registry(const std::string& key, const Field& field) const;
  void targets(const Field& field);
  Target target(const std::string& name, const Field& field) const;
  std::string image_name(const Field& field) const;
  std::vector<ImageRef> images(const Field& field) const;
  std::vector<std::string> key_values(const Field& field, ListForm form) const;
  std::vector<std::string> build_entries(const Field& field, bool require_type) const;
  void build(const Field& field);
  void push(const Field& field);
  void notify(const Field& field);
  Notify notify_entry(const Field& field) const;
  void log(const Field& field);
  void check_targets(const Field& root) const;
  bool is_known_host(const std::string& host) const;

  Reader reader_;
  Config config_;
};

Config ConfigParser::parse(const std::string& text, const std::filesystem::path& file) {
  config_.file = file;
  config_.base_dir = file.parent_path();
  config_.log.dir = config_.base_dir / ".multipush" / "runs";
  config_.digest = oci::sha256_digest(text);

  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::ParserException& error) {
    reader_.fail(Field{{}, "", error.mark.line + 1}, "invalid YAML: " + error.msg + flow_hint(text, error.mark.line));
  }
  Field root{document, "", 1};
  if (!document.IsMap() && !document.IsNull()) {
    reader_.fail(root, "expected a map of top-level keys (" + join_names(kTopLevelKeys) + "), found " +
                           describe_type(document));
  }

  // Sections are read in dependency order: targets need the top-level
  // platforms, and push and notify refer to registries and targets.
  std::map<std::string, Field> sections;
  for (auto& [key, value] : reader_.entries(root, kTopLevelKeys)) sections.emplace(key, value);
  auto section = [&](const char* key) -> const Field* {
    auto found = sections.find(key);
    return found == sections.end() ? nullptr : &found->second;
  };

  if (auto* field = section("platforms")) config_.platforms = platforms(*field);
  if (auto* field = section("registries")) registries(*field);
  if (auto* field = section("targets")) targets(*field);
  check_targets(section("targets") ? *section("targets") : root);

  if (auto* field = section("tags")) config_.tags = reader_.strings(*field, ListForm::lines);
  if (auto* field = section("flavor")) config_.flavor = reader_.strings(*field, ListForm::lines);
  if (auto* field = section("labels")) config_.labels = key_values(*field, ListForm::lines);
  if (auto* field = section("annotations")) config_.annotations = key_values(*field, ListForm::lines);
  if (auto* field = section("build")) build(*field);
  if (auto* field = section("push")) push(*field);
  if (auto* field = section("notify")) notify(*field);
  if (auto* field = section("log")) log(*field);
  return std::move(config_);
}

std::vector<std::string> ConfigParser::platforms(const Field& field) const {
  std::vector<std::string> result = reader_.strings(field, ListForm::commas);
  if (result.empty()) {
    reader_.fail(field, "the list is empty; list at least one platform, such as linux/amd64");
  }
  std::set<std::string> seen;
  for (const std::string& platform : result) {
    if (!is_valid_platform(platform)) {
      std::string message = "invalid platform \"" + platform + "\"; write os/arch[/variant], such as linux/amd64 or linux/arm/v7";
      if (has_upper(platform) && is_valid_platform(to_lower(platform))) {
        message = "invalid platform \"" + platform + "\": platforms are lower case; write \"" + to_lower(platform) + "\"";
      }
      reader_.fail(field, message);
    }
    if (!seen.insert(platform).second) reader_.fail(field, "platform \"" + platform + "\" is listed twice; keep one");
  }
  return result;
}

void ConfigParser::registries(const Field& field) {
  std::map<std::string, int> lines;  // normalised host -> line of its key
  for (const auto& [key, value] : reader_.entries(field, {})) {
    Registry entry = registry(key, value);
    auto [previous, inserted] = lines.emplace(entry.host, value.line);
    if (!inserted) {
      reader_.fail(value, "the same registry as line " + std::to_string(previous->second) + " (" + entry.host +
                              "); keep one of them");
    }
    config_.registries.push_back(std::move(entry));
  }
}

Registry ConfigParser::registry(const std::string& key, const Field& field) const {
  if (auto scheme = key.find("://"); scheme != std::string::npos) {
    std::string host = key.substr(scheme + 3);
    host = host.substr(0, host.find('/'));
    reader_.fail(field, "a registry key is host[:port] without a scheme; write \"" + host + "\"" +
                            (key.starts_with("http://") ? " and set insecure: true for plain HTTP" : ""));
  }
  if (auto slash = key.find('/'); slash != std::string::npos) {
    reader_.fail(field, "a registry key is host[:port] without a path; write \"" + key.substr(0, slash) +
                            "\" and put \"" + key.substr(slash + 1) + "\" under namespace");
  }
  if (!ref::is_valid_registry_host(key)) {
    reader_.fail(field, "\"" + key + "\" is not a valid registry host; write host[:port], such as ghcr.io or localhost:5000");
  }

  Registry result;
  result.host = ref::normalize_registry_host(key);
  result.location = reader_.location(field.line);
  for (const auto& [name, value] : reader_.entries(field, kRegistryKeys)) {
    if (name == "namespace") {
      // Upper case is lower-cased, as docker/metadata-action does for image
      // names (GitHub owners such as "OpenIMSDK" are often mixed case).
      result.namespace_ = to_lower(reader_.string(value));
      const std::string& path = result.namespace_;
      if (path.empty()) continue;
      if (!ref::is_valid_repository(path)) {
        reader_.fail(value, "invalid namespace \"" + path +
                                "\"; write lower-case letters and digits joined by \".\", \"_\", \"-\" or \"/\", "
                                "with no leading or trailing \"/\"");
      }
    } else if (name == "username") {
      result.username = reader_.string(value);
      if (result.username->empty()) {
        reader_.fail(value, "the username is empty; set the variable it names, or remove username and password to "
                            "use the docker config");
      }
    } else if (name == "password") {
      result.password = reader_.string(value);
      if (result.password->empty()) {
        reader_.fail(value, "the password is empty; set the variable it names, or remove username and password to "
                            "use the docker config");
      }
      output::register_secret(*result.password);
    } else if (name == "insecure") {
      result.insecure = reader_.boolean(value);
    } else if (name == "attestations") {
      result.attestations = reader_.choice<AttestationPolicy>(value, kAttestationPolicies);
    } else if (name == "chunk-size") {
      std::string text = reader_.string(value);
      auto size = parse_size(text);
      if (!size || *size == 0) {
        reader_.fail(value, "invalid size \"" + text +
                                "\"; write a positive number of bytes, optionally with a unit: B, KB, KiB, MB, MiB, "
                                "GB or GiB (4MiB, 512KiB, 1GB)");
      }
      result.chunk_size = size;
    } else if (name == "max-connections") {
      result.max_connections = static_cast<int>(reader_.integer(value, 1, INT_MAX));
    }
  }
  if (result.username.has_value() != result.password.has_value()) {
    reader_.fail(field, std::string("username and password go together, but only the ") +
                            (result.username ? "username" : "password") +
                            " is set; set both, or neither to use the docker config");
  }
  return result;
}

void ConfigParser::targets(const Field& field) {
  for (const auto& [name, value] : reader_.entries(field, {})) {
    if (!is_valid_target_name(name)) {
      reader_.fail(value, "invalid target name \"" + name +
                              "\"; use letters, digits, \"_\" and \"-\" only, as buildx bake target names do");
    }
    config_.targets.push_back(target(name, value));
  }
}

Target ConfigParser::target(const std::string& name, const Field& field) const {
  Target result;
  result.name = name;
  result.location = reader_.location(field.line);
  result.context = config_.base_dir;
  result.dockerfile = config_.base_dir / "Dockerfile";
  result.image = name;
  result.platforms = config_.platforms;

  for (const auto& [key, value] : reader_.entries(field, kTargetKeys)) {
    if (key == "context" || key == "dockerfile") {
      std::string path = reader_.string(value);
      if (path.empty()) reader_.fail(value, "the path is empty; write a path, or remove the key for the default");
      (key == "context" ? result.context : result.dockerfile) = resolve_path(config_.base_dir, path);
    } else if (key == "image") {
      result.image = image_name(value);
    } else if (key == "images") {
      result.images = images(value);
    } else if (key == "args") {
      for (const auto& [arg, arg_value] : reader_.entries(value, {})) {
        result.args[arg] = reader_.string(arg_value);
      }
    } else if (key == "target") {
      result.target = reader_.string(value);
      if (result.target->empty()) reader_.fail(value, "the stage name is empty; name a Dockerfile stage or remove the key");
    } else if (key == "labels") {
      result.labels = key_values(value, ListForm::lines);
    } else if (key == "annotations") {
      result.annotations = key_values(value, ListForm::lines);
    } else if (key == "platforms") {
      result.platforms = platforms(value);
    }
  }
  return result;
}

std::string ConfigParser::image_name(const Field& field) const {
  std::string image = reader_.string(field);
  auto slash = image.find('/');
  std::string_view first = std::string_view(image).substr(0, slash);
  if (slash != std::string::npos && (first.find_first_of(".:") != std::string_view::npos || first == "localhost")) {
    reader_.fail(field, "\"" + image +
                            "\" is a full reference, but image is a name under each registry's namespace; list full "
                            "references under images instead");
  }
  if (image.find_first_of(":@") != std::string::npos) {
    reader_.fail(field, "\"" + image + "\" carries a tag or digest; write the name only, since tags come from the "
                                       "tags rules");
  }
  // Lower-cased as docker/metadata-action does for image names.
  image = to_lower(image);
  if (!ref::is_valid_repository(image)) {
    reader_.fail(field, "invalid image name \"" + image +
                            "\"; write lower-case letters and digits joined by \".\", \"_\", \"-\" or \"/\"");
  }
  return image;
}

std::vector<ImageRef> ConfigParser::images(const Field& field) const {
  std::vector<ImageRef> result;
  std::set<std::string> seen;
  for (const Field& item : reader_.items(field)) {
    std::string text = reader_.string(item);
    auto reference = ref::parse(text, /*lower_case=*/true);
    if (!reference) reader_.fail(item, reference.error());
    if (reference->tag || reference->digest) {
      reader_.fail(item, "\"" + text + "\" carries a tag or digest; write \"" + reference->name() +
                             "\", since tags come from the tags rules");
    }
    if (!seen.insert(reference->name()).second) {
      reader_.fail(item, "\"" + reference->name() + "\" is listed twice; keep one");
    }
    result.push_back(ImageRef{*reference, reader_.location(item.line)});
  }
  if (result.empty()) reader_.fail(field, "the list is empty; list full references, or remove the key to use image");
  return result;
}

std::vector<std::string> ConfigParser::key_values(const Field& field, ListForm form) const {
  std::vector<std::string> result = reader_.strings(field, form);
  for (const std::string& entry : result) {
    auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) {
      reader_.fail(field, "\"" + entry + "\" is not key=value; write each entry as key=value");
    }
  }
  return result;
}

// Reads cache-from, cache-to or attest entries, each "type=...,key=value";
// cache entries may also be a bare image reference.
std::vector<std::string> ConfigParser::build_entries(const Field& field, bool require_type) const {
  std::vector<std::string> result = reader_.strings(field, ListForm::lines);
  std::vector<Field> item_fields;
  if (field.value.IsSequence()) item_fields = reader_.items(field);

  for (std::size_t i = 0; i < result.size(); ++i) {
    const std::string& entry = result[i];
    bool has_type = entry.starts_with("type=") || entry.find(",type=") != std::string::npos;
    bool is_csv = entry.find('=') != std::string::npos;
    if (has_type || (!require_type && !is_csv)) continue;
    reader_.fail(i < item_fields.size() ? item_fields[i] : field,
                 "\"" + entry + "\" names no type=; write type=NAME,key=value, and in a YAML flow list quote "
                 "entries that contain commas, as in [\"type=gha,mode=max\"]");
  }
  return result;
}

void ConfigParser::check_targets(const Field& targets_field) const {
  if (config_.targets.empty()) {
    reader_.fail(targets_field, "no targets are defined; add at least one, such as:\n"
                                "targets:\n  app: { context: ., dockerfile: Dockerfile }");
  }
  for (const Target& target : config_.targets) {
    Field field{{}, "targets." + target.name, target.location.line};
    if (target.images.empty() && config_.registries.empty()) {
      reader_.fail(field, "no registries are configured and the target lists no images; add a registries section, "
                          "or list full references under targets." + target.name + ".images");
    }
    if (!target.images.empty()) continue;
    for (const Registry& registry : config_.registries) {
      auto reference = make_destination(registry, target.image);
      if (!reference) reader_.fail(field, "with registry " + registry.host + ": " + reference.error());
    }
  }
}

bool ConfigParser::is_known_host(const std::string& host) const {
  if (config_.find_registry(host)) return true;
  for (const Target& target : config_.targets) {
    for (const ImageRef& image : target.images) {
      if (image.reference.registry == host) return true;
    }
  }
  return false;
}

void ConfigParser::build(const Field& field) {
  for (const auto& [key, value] : reader_.entries(field, kBuildKeys)) {
    if (key == "builder") {
      config_.build.builder = reader_.choice<Builder>(value, kBuilders);
    } else if (key == "bake-files") {
      for (const std::string& path : reader_.strings(value, ListForm::list_only)) {
        if (path.empty()) reader_.fail(value, "an entry is empty; write the path of a bake file");
        config_.build.bake_files.push_back(resolve_path(config_.base_dir, path));
      }
    } else if (key == "cache-from") {
      config_.build.cache_from = build_entries(value, false);
    } else if (key == "cache-to") {
      config_.build.cache_to = build_entries(value, false);
    } else if (key == "attest") {
      config_.build.attest = build_entries(value, true);
    }
  }
}

void ConfigParser::push(const Field& field) {
  for (const auto& [key, value] : reader_.entries(field, kPushKeys)) {
    if (key == "when") {
      config_.push.when = reader_.choice<PushWhen>(value, kPushWhen);
    } else if (key == "preflight") {
      config_.push.preflight = reader_.choice<Preflight>(value, kPreflight);
    } else if (key == "stage") {
      std::string host = ref::normalize_registry_host(reader_.string(value));
      if (!is_known_host(host)) {
        std::vector<std::string_view> hosts;
        for (const Registry& registry : config_.registries) hosts.push_back(registry.host);
        reader_.fail(value, "\"" + host + "\" is not a configured registry; write one of: " +
                                (hosts.empty() ? std::string("(none; add a registries section)") : join_names(hosts)));
      }
      config_.push.stage = host;
    }
  }
}

void ConfigParser::notify(const Field& field) {
  for (const Field& item : reader_.items(field)) config_.notify.push_back(notify_entry(item));
}

Notify ConfigParser::notify_entry(const Field& field) const {
  Notify result;
  result.location = reader_.location(field.line);
  bool has_type = false;
  std::optional<Field> url_field;
  for (const auto& [key, value] : reader_.entries(field, kNotifyKeys)) {
    if (key == "type") {
      result.type = reader_.string(value);
      has_type = true;
      if (std::find(std::begin(kNotifyTypes), std::end(kNotifyTypes), result.type) == std::end(kNotifyTypes)) {
        reader_.fail(value, "unknown value \"" + result.type + "\"; accepted values: " + join_names(kNotifyTypes));
      }
    } else if (key == "url") {
      // The URL of a Slack, DingTalk or Teams webhook is itself a secret.
      result.url = reader_.string(value);
      output::register_secret(result.url);
      url_field = value;
    } else if (key == "secret") {
      result.secret = reader_.string(value);
      output::register_secret(*result.secret);
    } else if (key == "on") {
      result.on = reader_.choice<NotifyOn>(value, kNotifyOn);
    } else if (key == "targets") {
      result.targets = reader_.strings(value, ListForm::commas);
      for (const std::string& name : result.targets) {
        if (!config_.find_target(name)) reader_.fail(value, "\"" + name + "\" is not a target defined in targets");
      }
    } else if (key == "registries") {
      for (const std::string& host : reader_.strings(value, ListForm::commas)) {
        std::string normalized = ref::normalize_registry_host(host);
        if (!is_known_host(normalized)) {
          reader_.fail(value, "\"" + host + "\" is not a registry of this file; name a host under registries or in "
                                            "a target's images");
        }
        result.registries.push_back(normalized);
      }
    }
  }

  if (!has_type) {
    reader_.fail(field, "missing key \"type\"; set it to one of: " + join_names(kNotifyTypes));
  }
  if (result.type == "github-issue") {
    if (url_field) reader_.fail(*url_field, "github-issue takes no url; remove the key");
    return result;
  }
  if (!url_field || result.url.empty()) {
    reader_.fail(url_field ? *url_field : field, "a " + result.type + " notification needs a url; set url, "
                                                 "usually to ${VARIABLE} holding the webhook URL");
  }
  // The value is not shown: it may carry a token.
  if (!result.url.starts_with("https://") && !result.url.starts_with("http://")) {
    reader_.fail(*url_field, "the url must start with https:// or http://");
  }
  return result;
}

void ConfigParser::log(const Field& field) {
  for (const auto& [key, value] : reader_.entries(field, kLogKeys)) {
    if (key == "dir") {
      std::string path = reader_.string(value);
      if (path.empty()) reader_.fail(value, "the path is empty; write a directory, or remove the key for the default");
      config_.log.dir = resolve_path(config_.base_dir, path);
    } else if (key == "keep") {
      config_.log.keep = static_cast<int>(reader_.integer(value, 1, INT_MAX));
    }
  }
}

}  // namespace

Config parse_config(const std::string& text, const std::filesystem::path& file) {
  std::filesystem::path absolute = std::filesystem::absolute(file).lexically_normal();
  ConfigParser parser(absolute);
  return parser.parse(text, absolute);
}

}  // namespace multipush::config
