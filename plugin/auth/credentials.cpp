#include "multipush/auth/credentials.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "multipush/auth/token.hpp"
#include "multipush/output/redact.hpp"
#include "multipush/ref/reference.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"
#include "multipush/util/process.hpp"

namespace multipush::auth {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kHelperTimeout{60};
constexpr std::string_view kHelperNotFound = "credentials not found in native keychain";

std::string trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The key of `host` in the docker config: Docker Hub's literal URL, or the
// host[:port] as written.
std::string credential_key(const std::string& host) {
  std::string lower = to_lower(host);
  if (lower == "docker.io" || lower == "index.docker.io" || lower == "registry-1.docker.io" ||
      lower == ref::kDockerHubCredentialKey) {
    return std::string(ref::kDockerHubCredentialKey);
  }
  return host;
}

// "https://reg.example.com/v1/" -> "reg.example.com", for legacy auths keys.
std::string hostname_form(std::string key) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (key.starts_with(scheme)) key.erase(0, scheme.size());
  }
  return key.substr(0, key.find('/'));
}

json read_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return json::object();
  std::ostringstream text;
  text << in.rdbuf();
  if (trim(text.str()).empty()) return json::object();
  json config = json::parse(text.str(), nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    throw UsageError("the docker config " + file.string() +
                     " is not valid JSON: fix or remove it, or point --config or DOCKER_CONFIG elsewhere");
  }
  return config;
}

std::string string_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Finds the auths entry for `key`: the exact key first, then any key whose
// hostname form matches (legacy "https://host/v1/" keys).
const json* find_auth_entry(const json& config, const std::string& key) {
  auto auths = config.find("auths");
  if (auths == config.end() || !auths->is_object()) return nullptr;
  auto exact = auths->find(key);
  if (exact != auths->end()) return &*exact;
  std::string expected_host = hostname_form(key);
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    if (hostname_form(it.key()) == expected_host) return &*it;
  }
  return nullptr;
}

std::optional<Credentials> decode_auth_entry(const json& entry, const std::string& key, const std::string& where) {
  if (!entry.is_object()) {
    throw UsageError("auths[\"" + key + "\"] in " + where + " is not a JSON object: fix it or log in again with `docker login`");
  }
  Credentials credentials;
  credentials.source = "auths[" + key + "] in " + where;
  std::string auth = string_field(entry, "auth");
  if (!auth.empty()) {
    output::register_secret(auth);
    auto decoded = base64_decode(auth);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (!decoded || colon == std::string::npos || colon == 0) {
      throw UsageError("auths[\"" + key + "\"].auth in " + where +
                       " is not base64 of \"username:password\": log in again with `docker login " + key + "`");
    }
    credentials.username = decoded->substr(0, colon);
    credentials.password = decoded->substr(colon + 1);
    while (!credentials.password.empty() && credentials.password.back() == '\0') credentials.password.pop_back();
  } else {
    // Legacy files keep the two fields separately.
    credentials.username = string_field(entry, "username");
    credentials.password = string_field(entry, "password");
  }
  credentials.identity_token = string_field(entry, "identitytoken");
  credentials.registry_token = string_field(entry, "registrytoken");
  output::register_secret(credentials.password);
  output::register_secret(credentials.identity_token);
  output::register_secret(credentials.registry_token);
  if (credentials.password.empty() && credentials.identity_token.empty() && credentials.registry_token.empty()) {
    return std::nullopt;  // an empty placeholder entry
  }
  return credentials;
}

std::optional<Credentials> from_helper(const std::string& helper, const std::string& key, const std::string& named_by) {
  std::string program = "docker-credential-" + helper;
  util::ProcessOptions options;
  options.stdin_data = key;
  options.timeout = kHelperTimeout;
  auto result = util::run_process({program, "get"}, options);
  if (!result) {
    throw UsageError("the credential helper " + program + " (named by " + named_by +
                     ") was not found on PATH: install it or remove it from the docker config");
  }
  if (result->timed_out) {
    throw UsageError("the credential helper " + program + " timed out after " +
                     std::to_string(kHelperTimeout.count()) + " seconds: check that it can run without a prompt");
  }
  std::string out = trim(result->stdout_text);
  if (result->exit_code != 0) {
    if (out == kHelperNotFound) return std::nullopt;
    std::string detail = out.empty() ? trim(result->stderr_text) : out;
    throw UsageError(output::redact("the credential helper " + program + " failed to get credentials for " + key +
                                    " (exit code " + std::to_string(result->exit_code) + "): " + detail));
  }
  json answer = json::parse(out, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    throw UsageError("the credential helper " + program + " returned output for " + key +
                     " that is not a JSON object: check the helper with `" + program + " get`");
  }
  std::string username = string_field(answer, "Username");
  std::string secret = string_field(answer, "Secret");
  output::register_secret(secret);
  if (username.empty() && secret.empty()) return std::nullopt;

  Credentials credentials;
  credentials.source = named_by + " (" + program + ")";
  if (username == "<token>") {
    credentials.identity_token = secret;
  } else {
    credentials.username = username;
    credentials.password = secret;
  }
  return credentials;
}

// DOCKER_AUTH_CONFIG contains {"auths": {KEY: {"auth": "..."}}} and nothing else.
std::optional<Credentials> from_auth_config_env(const std::string& key) {
  auto text = util::get_env("DOCKER_AUTH_CONFIG");
  if (!text || trim(*text).empty()) return std::nullopt;
  json config = json::parse(*text, nullptr, false);
  auto invalid = [](const std::string& what) {
    return UsageError("DOCKER_AUTH_CONFIG " + what +
                      ": set it to {\"auths\":{\"HOST\":{\"auth\":\"BASE64(user:password)\"}}} or unset it");
  };
  if (config.is_discarded() || !config.is_object()) throw invalid("is not a JSON object");
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (it.key() != "auths") throw invalid("has the unknown field `" + it.key() + "`");
  }
  auto auths = config.find("auths");
  if (auths == config.end()) return std::nullopt;
  if (!auths->is_object()) throw invalid("has an `auths` field that is not an object");
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    if (!it->is_object()) throw invalid("has an entry for " + it.key() + " that is not an object");
    for (auto field = it->begin(); field != it->end(); ++field) {
      if (field.key() != "auth") throw invalid("has the unknown field `" + field.key() + "` for " + it.key());
    }
  }
  const json* entry = find_auth_entry(config, key);
  if (entry == nullptr) return std::nullopt;
  return decode_auth_entry(*entry, key, "DOCKER_AUTH_CONFIG");
}

}  // namespace

std::filesystem::path docker_config_dir(const std::optional<std::filesystem::path>& config_dir) {
  if (config_dir && !config_dir->empty()) return *config_dir;
  if (auto dir = util::get_env("DOCKER_CONFIG"); dir && !dir->empty()) return *dir;
  return std::filesystem::path(util::get_env_or("HOME", "/root")) / ".docker";
}

std::optional<Credentials> from_docker_config(const std::string& registry_host, const std::filesystem::path& dir) {
  std::string key = credential_key(registry_host);
  if (auto credentials = from_auth_config_env(key)) return credentials;

  std::filesystem::path file = dir / "config.json";
  json config = read_config(file);

  auto helpers = config.find("credHelpers");
  if (helpers != config.end() && helpers->is_object()) {
    auto helper = helpers->find(key);
    if (helper != helpers->end() && helper->is_string() && !helper->get<std::string>().empty()) {
      return from_helper(helper->get<std::string>(), key, "credHelpers[" + key + "] in " + file.string());
    }
  }
  std::string store = string_field(config, "credsStore");
  if (!store.empty()) return from_helper(store, key, "credsStore in " + file.string());

  const json* entry = find_auth_entry(config, key);
  if (entry == nullptr) return std::nullopt;
  return decode_auth_entry(*entry, key, file.string());
}

}  // namespace multipush::auth
