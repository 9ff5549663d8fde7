#include "multipush/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <system_error>

#include "config/paths.hpp"
#include "multipush/util/error.hpp"

namespace multipush::config {

std::string Location::str() const {
  std::string display = file.string();
  std::error_code error;
  auto cwd = std::filesystem::current_path(error);
  if (!error && file.is_absolute()) {
    auto relative = file.lexically_relative(cwd);
    if (!relative.empty() && *relative.begin() != "..") display = relative.string();
  }
  if (line > 0) display += ":" + std::to_string(line);
  return display;
}

const Registry* Config::find_registry(const std::string& host) const {
  const std::string normalized = ref::normalize_registry_host(host);
  auto found = std::find_if(registries.begin(), registries.end(),
                            [&](const Registry& registry) { return registry.host == normalized; });
  return found == registries.end() ? nullptr : &*found;
}

const Target* Config::find_target(const std::string& name) const {
  auto found = std::find_if(targets.begin(), targets.end(), [&](const Target& target) { return target.name == name; });
  return found == targets.end() ? nullptr : &*found;
}

std::filesystem::path resolve_path(const std::filesystem::path& base, std::string_view text) {
  std::filesystem::path path = (base / std::filesystem::path(text)).lexically_normal();
  if (!path.has_filename() && path.has_relative_path()) path = path.parent_path();
  return path;
}

std::expected<ref::Reference, std::string> make_destination(const Registry& registry, const std::string& image) {
  std::string text = registry.host + "/";
  if (!registry.namespace_.empty()) text += registry.namespace_ + "/";
  text += image;
  return ref::parse(text);
}

std::vector<ref::Reference> destinations(const Config& config, const Target& target) {
  std::vector<ref::Reference> result;
  if (!target.images.empty()) {
    for (const ImageRef& image : target.images) result.push_back(image.reference);
    return result;
  }
  for (const Registry& registry : config.registries) {
    auto reference = make_destination(registry, target.image);
    // parse_config() and config_from_overrides() have checked every pair.
    if (!reference) throw Fatal(ExitCode::internal, reference.error());
    result.push_back(*reference);
  }
  return result;
}

std::optional<std::uint64_t> parse_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) ++digits;
  if (digits == 0) return std::nullopt;

  std::uint64_t number = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    number = number * 10 + digit;
  }

  std::string unit = text.substr(digits);
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });

  struct Unit {
    std::string_view name;
    std::uint64_t bytes;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kb", 1000},
      {"kib", 1ULL << 10},
      {"mb", 1000 * 1000},
      {"mib", 1ULL << 20},
      {"gb", 1000ULL * 1000 * 1000},
      {"gib", 1ULL << 30},
  };
  for (const Unit& candidate : kUnits) {
    if (candidate.name != unit) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / candidate.bytes) return std::nullopt;
    return number * candidate.bytes;
  }
  return std::nullopt;
}

bool is_valid_platform(std::string_view platform) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    auto slash = platform.find('/', start);
    auto part = platform.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    bool valid = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!valid) return false;
    ++parts;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts == 2 || parts == 3;
}

}  // namespace multipush::config
