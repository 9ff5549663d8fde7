#include "transport.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "multipush/util/error.hpp"

namespace multipush::registry::detail {

namespace fs = std::filesystem;

http::TlsOptions load_certs_dir(const fs::path& certs_dir, const std::string& host, bool insecure) {
  http::TlsOptions tls;
  tls.verify_peer = !insecure;
  fs::path dir = certs_dir / host;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return tls;

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, fs::path> certs;
  std::map<std::string, fs::path> keys;
  for (const auto& file : files) {
    std::string extension = file.extension().string();
    if (extension == ".crt") tls.ca_files.push_back(file);
    else if (extension == ".cert") certs[file.stem().string()] = file;
    else if (extension == ".key") keys[file.stem().string()] = file;
  }
  for (const auto& [name, cert] : certs) {
    if (!keys.contains(name)) {
      throw UsageError("the client certificate " + cert.string() + " has no matching key " +
                       (dir / (name + ".key")).string() + ": add the key or remove the certificate");
    }
  }
  for (const auto& [name, key] : keys) {
    if (!certs.contains(name)) {
      throw UsageError("the client key " + key.string() + " has no matching certificate " +
                       (dir / (name + ".cert")).string() + ": add the certificate or remove the key");
    }
  }
  if (!certs.empty()) {
    // NOTE: the docker daemon tries every pair in turn; only the first one
    // in alphabetical order is used here.
    tls.client_cert = certs.begin()->second;
    tls.client_key = keys.at(certs.begin()->first);
  }
  return tls;
}

std::vector<SpecError> parse_error_body(std::string_view body) {
  std::vector<SpecError> errors;
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return errors;
  auto list = json.find("errors");
  if (list == json.end() || !list->is_array()) return errors;
  for (const auto& item : *list) {
    if (!item.is_object()) continue;
    SpecError error;
    if (auto code = item.find("code"); code != item.end() && code->is_string()) error.code = code->get<std::string>();
    if (auto message = item.find("message"); message != item.end() && message->is_string()) {
      error.message = message->get<std::string>();
    }
    if (!error.code.empty()) errors.push_back(std::move(error));
  }
  return errors;
}

bool is_loopback(std::string_view host) {
  std::string_view name = host;
  if (name.starts_with("[")) {
    name = name.substr(1, name.find(']') - 1);
  } else if (name.find(':') != name.rfind(':')) {
    // A bare IPv6 address.
  } else {
    name = name.substr(0, name.find(':'));
  }
  return name == "localhost" || name == "::1" || name.starts_with("127.");
}

std::string api_host(std::string_view host) {
  if (host == "docker.io" || host == "index.docker.io") return "registry-1.docker.io";
  return std::string(host);
}

std::string url_without_query(const std::string& url) {
  return url.substr(0, url.find_first_of("?#"));
}

std::string append_query(const std::string& url, const std::string& name, const std::string& value) {
  char separator = url.find('?') == std::string::npos ? '?' : '&';
  return url + separator + name + "=" + http::url_encode(value);
}

long retry_after_seconds(const http::Response& response) {
  auto value = response.header("retry-after");
  if (!value || value->empty()) return -1;
  if (!std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  if (value->size() > 9) return -1;
  return std::stol(*value);
}

}  // namespace multipush::registry::detail
