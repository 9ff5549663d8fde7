// Parsing of `docker buildx version` and `docker buildx inspect`, and the
// check that the builder can build what the request needs.
#include "build/buildx.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

#include "multipush/util/error.hpp"

namespace multipush::build::detail {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Parses "v0.10.5", "0.19.3+ds1" or "v0.20.0-rc1" into a version.
std::optional<BuildxVersion> parse_version_word(std::string_view word) {
  BuildxVersion version;
  version.text = std::string(word);
  if (!word.empty() && word.front() == 'v') word.remove_prefix(1);

  int* parts[] = {&version.major, &version.minor, &version.patch};
  const char* cursor = word.data();
  const char* end = word.data() + word.size();
  for (size_t i = 0; i < 3; ++i) {
    auto [next, error] = std::from_chars(cursor, end, *parts[i]);
    if (error != std::errc()) return i >= 2 ? std::optional(version) : std::nullopt;
    cursor = next;
    if (i < 2) {
      if (cursor == end || *cursor != '.') return i >= 1 ? std::optional(version) : std::nullopt;
      ++cursor;
    }
  }
  return version;
}

std::vector<std::string> split_platforms(std::string_view value) {
  std::vector<std::string> platforms;
  std::string item;
  std::istringstream stream{std::string(value)};
  while (std::getline(stream, item, ',')) {
    std::string_view platform = trim(item);
    if (!platform.empty() && platform.back() == '*') platform.remove_suffix(1);
    platform = trim(platform);
    if (!platform.empty()) platforms.emplace_back(platform);
  }
  return platforms;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

}  // namespace

std::optional<BuildxVersion> parse_buildx_version(std::string_view output) {
  std::istringstream stream{std::string(output)};
  std::string word;
  while (stream >> word) {
    if (word.find("buildx") != std::string::npos) continue;
    auto version = parse_version_word(word);
    if (!version) continue;
    // Development builds report v0.0.0+unknown: no release to compare.
    if (version->major == 0 && version->minor == 0 && version->patch == 0) return std::nullopt;
    return version;
  }
  return std::nullopt;
}

bool supports_allow_flag(const std::optional<BuildxVersion>& version, std::string_view bake_help) {
  // `bake --allow` arrived in buildx 0.19 (warning only); 0.20 fails without it.
  if (version) return version->at_least(0, 19);
  return bake_help.find("--allow") != std::string_view::npos;
}

BuilderInfo parse_buildx_inspect(std::string_view text) {
  BuilderInfo info;
  BuilderNode* node = nullptr;
  bool in_nodes = false;
  bool in_labels = false;

  std::istringstream stream{std::string(text)};
  std::string line;
  while (std::getline(stream, line)) {
    if (trim(line).empty()) continue;
    const bool indented = line.front() == ' ' || line.front() == '\t';
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key(trim(std::string_view(line).substr(0, colon)));
    const std::string value(trim(std::string_view(line).substr(colon + 1)));

    if (indented) {
      if (in_labels && node != nullptr) node->labels[key] = value;
      continue;
    }
    in_labels = false;

    if (key == "Nodes") {
      in_nodes = true;
    } else if (!in_nodes) {
      if (key == "Name") info.name = value;
      if (key == "Driver") info.driver = value;
    } else if (key == "Name") {
      info.nodes.push_back(BuilderNode{.name = value, .status = {}, .platforms = {}, .labels = {}});
      node = &info.nodes.back();
    } else if (node == nullptr) {
      continue;
    } else if (key == "Status") {
      node->status = value;
    } else if (key == "Platforms") {
      node->platforms = split_platforms(value);
    } else if (key == "Labels") {
      in_labels = true;
    }
  }
  return info;
}

std::string normalize_platform(std::string_view platform) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream{std::string(trim(platform))};
  while (std::getline(stream, part, '/')) parts.push_back(part);
  if (parts.size() < 2) return std::string(platform);

  std::string variant = parts.size() > 2 ? parts[2] : "";
  if (parts[1] == "arm64" && variant == "v8") variant.clear();
  if (parts[1] == "amd64" && variant == "v1") variant.clear();
  if (parts[1] == "arm" && variant.empty()) variant = "v7";

  std::string normalized = parts[0] + "/" + parts[1];
  if (!variant.empty()) normalized += "/" + variant;
  return normalized;
}

std::vector<std::string> missing_platforms(const BuilderInfo& builder,
                                           const std::vector<std::string>& requested) {
  std::set<std::string> available;
  for (const BuilderNode& node : builder.nodes) {
    for (const std::string& platform : node.platforms) available.insert(normalize_platform(platform));
  }
  std::vector<std::string> missing;
  for (const std::string& platform : requested) {
    if (!available.contains(normalize_platform(platform)) &&
        std::find(missing.begin(), missing.end(), platform) == missing.end()) {
      missing.push_back(platform);
    }
  }
  return missing;
}

std::optional<std::string> builder_problem(const BuilderInfo& builder,
                                           const std::vector<std::string>& requested) {
  const std::string name = builder.name.empty() ? "(unnamed)" : builder.name;
  const std::string create_builder =
      "docker buildx create --use --name multipush --driver docker-container";

  if (builder.nodes.empty()) {
    return "buildx builder \"" + name + "\" has no nodes; create one with `" + create_builder + "`";
  }

  // The docker driver exports OCI layouts and builds several platforms only
  // when dockerd uses the containerd image store, which shows as a
  // snapshotter worker label.
  if (builder.driver == "docker") {
    const bool containerd_store = std::any_of(builder.nodes.begin(), builder.nodes.end(), [](const BuilderNode& node) {
      return node.labels.contains("org.mobyproject.buildkit.worker.snapshotter");
    });
    if (!containerd_store) {
      return "buildx builder \"" + name +
             "\" uses the docker driver without the containerd image store, which cannot write OCI layouts or "
             "build several platforms; create a docker-container builder with `" + create_builder +
             "`, or turn on the containerd image store in Docker Engine";
    }
  }

  auto missing = missing_platforms(builder, requested);
  if (missing.empty()) return std::nullopt;

  std::vector<std::string> available;
  std::vector<std::string> statuses;
  for (const BuilderNode& node : builder.nodes) {
    available.insert(available.end(), node.platforms.begin(), node.platforms.end());
    if (!node.status.empty() && node.status != "running") statuses.push_back(node.name + " is " + node.status);
  }
  std::string message = "buildx builder \"" + name + "\" (driver " + builder.driver + ") cannot build " +
                        join(missing, ", ") + "; it offers " +
                        (available.empty() ? std::string("no platforms") : join(available, ", "));
  if (!statuses.empty()) message += " (" + join(statuses, ", ") + ")";
  message +=
      ". Install QEMU emulators with `docker run --privileged --rm tonistiigi/binfmt --install all`, then "
      "recreate the builder with `docker buildx rm " + name + "` and `" + create_builder +
      "`, or run `docker multipush setup`";
  return message;
}

}  // namespace multipush::build::detail
