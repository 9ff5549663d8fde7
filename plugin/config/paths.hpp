#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

#include "multipush/config/config.hpp"

namespace multipush::config {

// Returns `text` as an absolute, normalised path; a relative `text` is
// resolved against `base`. A trailing "/" is dropped.
std::filesystem::path resolve_path(const std::filesystem::path& base, std::string_view text);

// Returns the repository that `image` is pushed to on `registry`, or the
// reason it is not a valid reference.
std::expected<ref::Reference, std::string> make_destination(const Registry& registry, const std::string& image);

}  // namespace multipush::config
