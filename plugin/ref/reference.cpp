// Image reference parsing: `[host[:port]/]path[:tag][@digest]` with the
// Docker Hub defaults that the docker CLI applies (docker.io, library/).

#include "multipush/ref/reference.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace multipush::ref {

namespace {

// Many registries and clients reject a `host/name` longer than this.
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_lower_hex(char c) {
  return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

bool has_upper(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isupper(c) != 0; });
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

// One path component: [a-z0-9]+ separated by ".", "_", "__" or one or more "-".
bool is_valid_component(std::string_view component) {
  if (component.empty() || !is_lower_alnum(component.front()) || !is_lower_alnum(component.back())) {
    return false;
  }
  std::size_t i = 0;
  while (i < component.size()) {
    char c = component[i];
    if (is_lower_alnum(c)) {
      ++i;
      continue;
    }
    std::size_t run = 0;
    while (i + run < component.size() && component[i + run] == c) ++run;
    bool separator_ok = (c == '.' && run == 1) || (c == '_' && run <= 2) || c == '-';
    if (!separator_ok) return false;
    i += run;
  }
  return true;
}

bool is_anchored_hex_id(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), is_lower_hex);
}

std::string invalid(std::string_view text, std::string_view problem) {
  std::string message = "invalid reference \"";
  message += text;
  message += "\": ";
  message += problem;
  return message;
}

// R1: the first component is a registry host when it contains "." or ":",
// is "localhost", or contains upper case (the docker CLI's rule).
bool looks_like_host(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost" ||
         has_upper(component);
}

}  // namespace

bool is_valid_repository(std::string_view path) {
  if (path.empty()) return false;
  std::size_t start = 0;
  while (true) {
    auto slash = path.find('/', start);
    auto component = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!is_valid_component(component)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  if (!word(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_valid_digest(std::string_view digest) {
  auto colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto algorithm = digest.substr(0, colon);
  auto encoded = digest.substr(colon + 1);

  // Algorithm: [a-z0-9]+ components joined by one of "+", ".", "_", "-".
  bool expect_alnum = true;
  for (char c : algorithm) {
    if (is_lower_alnum(c)) {
      expect_alnum = false;
    } else if ((c == '+' || c == '.' || c == '_' || c == '-') && !expect_alnum) {
      expect_alnum = true;
    } else {
      return false;
    }
  }
  if (expect_alnum) return false;

  if (encoded.empty()) return false;
  auto encoded_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '=' || c == '_' || c == '-';
  };
  if (!std::all_of(encoded.begin(), encoded.end(), encoded_char)) return false;

  // Registered algorithms fix the length and require lower-case hex.
  std::size_t hex_length = 0;
  if (algorithm == "sha256" || algorithm == "blake3") hex_length = 64;
  if (algorithm == "sha512") hex_length = 128;
  if (hex_length != 0) {
    return encoded.size() == hex_length && std::all_of(encoded.begin(), encoded.end(), is_lower_hex);
  }
  return true;
}

std::expected<Reference, std::string> parse(std::string_view text, bool lower_case) {
  if (text.empty()) return std::unexpected(std::string("invalid reference \"\": the reference is empty"));
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; })) {
    return std::unexpected(invalid(text, "contains white space; remove it"));
  }

  Reference reference;
  std::string_view rest = text;

  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = rest.substr(at + 1);
    if (!is_valid_digest(digest)) {
      return std::unexpected(invalid(text, "digest \"" + std::string(digest) +
                                               "\" is not valid; write sha256: followed by 64 lower-case hex digits"));
    }
    reference.digest = std::string(digest);
    rest = rest.substr(0, at);
  }

  auto last_slash = rest.rfind('/');
  auto last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos && (last_slash == std::string_view::npos || last_colon > last_slash)) {
    auto tag = rest.substr(last_colon + 1);
    if (!is_valid_tag(tag)) {
      return std::unexpected(invalid(
          text, "tag \"" + std::string(tag) +
                    "\" is not valid; a tag is 1 to 128 letters, digits, \"_\", \".\" or \"-\" and does not "
                    "start with \".\" or \"-\""));
    }
    reference.tag = std::string(tag);
    rest = rest.substr(0, last_colon);
  }

  std::string name = lower_case ? to_lower(rest) : std::string(rest);
  if (name.empty()) return std::unexpected(invalid(text, "the repository name is missing"));

  std::string host;
  std::string path = name;
  auto first_slash = name.find('/');
  if (first_slash != std::string::npos && looks_like_host(std::string_view(name).substr(0, first_slash))) {
    host = name.substr(0, first_slash);
    path = name.substr(first_slash + 1);
    bool single_label = host.find_first_of(".:") == std::string::npos && host != "localhost";
    if (single_label) {
      // Only its upper case makes this a host. That is almost always a
      // mis-cased Docker Hub namespace, so reject it with both fixes.
      return std::unexpected(invalid(
          text, "\"" + host + "\" would be read as a registry host because it contains upper case; use \"" +
                    to_lower(name) + "\" for a Docker Hub namespace, or write the host with a domain or port"));
    }
    if (!is_valid_registry_host(host)) {
      return std::unexpected(invalid(text, "registry host \"" + host +
                                               "\" is not valid; write host[:port], such as ghcr.io or localhost:5000"));
    }
    host = normalize_registry_host(host);
  } else {
    host = std::string(kDockerHub);
    if (first_slash == std::string::npos && is_anchored_hex_id(name)) {
      return std::unexpected(invalid(text, "a 64-digit hex string is an image ID, not a repository name"));
    }
  }

  if (path.empty()) return std::unexpected(invalid(text, "the repository path after the registry host is missing"));
  if (has_upper(path)) {
    std::string suggestion = to_lower(rest);
    if (reference.tag) suggestion += ":" + *reference.tag;
    if (reference.digest) suggestion += "@" + *reference.digest;
    return std::unexpected(invalid(text, "repository must be lower case; use \"" + suggestion + "\""));
  }
  if (!is_valid_repository(path)) {
    return std::unexpected(invalid(
        text, "repository \"" + path +
                  "\" is not valid; each \"/\"-separated part is lower-case letters and digits, joined by \".\", "
                  "\"_\", \"__\" or \"-\""));
  }
  if (host == kDockerHub && path.find('/') == std::string::npos) path = "library/" + path;

  if (host.size() + 1 + path.size() > kMaxNameLength) {
    return std::unexpected(invalid(text, "the name is longer than 255 characters; shorten the repository path"));
  }

  reference.registry = std::move(host);
  reference.repository = std::move(path);
  return reference;
}

std::string Reference::name() const {
  return registry + "/" + repository;
}

std::string Reference::str() const {
  std::string text = name();
  if (tag) text += ":" + *tag;
  if (digest) text += "@" + *digest;
  return text;
}

std::string Reference::api_host() const {
  return api_host_for_host(registry);
}

std::string Reference::credential_key() const {
  return credential_key_for_host(registry);
}

bool Reference::is_loopback() const {
  return is_loopback_host(registry);
}

}  // namespace multipush::ref
