#include "transport.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <iomanip>
#include <locale>
#include <map>
#include <sstream>

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

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  // IMF-fixdate first, then the two obsolete forms recipients must accept.
  static constexpr std::array<const char*, 3> kFormats = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                                          "%a %b %e %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    std::tm parts{};
    std::istringstream in{std::string(text)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&parts, format);
    if (in.fail()) continue;
    in >> std::ws;
    if (!in.eof()) continue;
    std::time_t seconds = ::timegm(&parts);
    if (seconds == static_cast<std::time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(seconds);
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> retry_after(const http::Response& response,
                                                     std::chrono::system_clock::time_point now) {
  auto value = response.header("retry-after");
  if (!value || value->empty()) return std::nullopt;
  long seconds = retry_after_seconds(response);
  if (seconds >= 0) return std::chrono::seconds(seconds);
  auto date = parse_http_date(*value);
  if (!date) return std::nullopt;
  if (*date <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*date - now);
}

std::optional<std::uint64_t> range_end(std::string_view value) {
  if (value.starts_with("bytes=")) value.remove_prefix(6);
  size_t dash = value.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= value.size()) return std::nullopt;
  std::string_view end = value.substr(dash + 1);
  if (end.size() > 19) return std::nullopt;
  auto digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(value.substr(0, dash)) || !digits(end)) return std::nullopt;
  return std::stoull(std::string(end));
}

std::optional<std::string> next_link(const http::Response& response, const std::string& request_url) {
  for (const auto& header : response.header_values("link")) {
    // A header may hold several comma-separated links: <url>; rel="next", ...
    size_t position = 0;
    while (position < header.size()) {
      size_t open = header.find('<', position);
      if (open == std::string::npos) break;
      size_t close = header.find('>', open);
      if (close == std::string::npos) break;
      size_t next = header.find('<', close);
      size_t parameters_end = next == std::string::npos ? header.size() : next;
      std::string parameters = header.substr(close + 1, parameters_end - close - 1);
      std::string lowered;
      for (char c : parameters) {
        if (c != ' ' && c != '"') lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
      if (lowered.find("rel=next") != std::string::npos) {
        return http::resolve_url(request_url, header.substr(open + 1, close - open - 1));
      }
      if (next == std::string::npos) break;
      position = next;
    }
  }
  return std::nullopt;
}

}  // namespace multipush::registry::detail
