#include "multipush/report/notify.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "multipush/output/redact.hpp"
#include "multipush/util/http.hpp"
#include "report/webhook.hpp"

namespace multipush::report {
namespace detail {
namespace {

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool run_failed(const RunSummary& summary) {
  return summary.exit_code != 0;
}

}  // namespace

std::string webhook_body(const RunSummary& summary) {
  nlohmann::ordered_json outcomes = nlohmann::ordered_json::array();
  for (const auto& outcome : summary.outcomes) {
    outcomes.push_back({
        {"target", outcome.target},
        {"registry", outcome.registry},
        {"repository", outcome.repository},
        {"tags", outcome.tags},
        {"digest", outcome.digest},
        {"status", outcome.status},
        {"error", outcome.error},
        {"note", outcome.note},
    });
  }
  nlohmann::ordered_json body{
      {"schema", 1},
      {"run_id", summary.run_id},
      {"status", summary.status},
      {"exit_code", summary.exit_code},
      {"repository", summary.repository},
      {"ref", summary.ref},
      {"sha", summary.sha},
      {"run_url", summary.run_url},
      {"seconds", summary.seconds},
      {"failed_targets", summary.failed_targets},
      {"failed_registries", summary.failed_registries},
      {"outcomes", outcomes},
  };
  // redact_json works on the sorted json type, so redact each string in
  // place here to keep the documented key order.
  auto redact_strings = [](auto& self, nlohmann::ordered_json& value) -> void {
    if (value.is_string()) {
      value = output::redact(value.get_ref<const std::string&>());
    } else if (value.is_structured()) {
      for (auto& item : value) self(self, item);
    }
  };
  redact_strings(redact_strings, body);
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string webhook_signature(std::string_view body, std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex = "sha256=";
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

bool should_notify(const config::Notify& notification, const RunSummary& summary) {
  const bool failed = run_failed(summary);
  if (notification.on == config::NotifyOn::failure && !failed) return false;
  if (notification.on == config::NotifyOn::success && failed) return false;
  if (notification.targets.empty() && notification.registries.empty()) return true;

  const bool failed_only = notification.on == config::NotifyOn::failure;
  const auto target_matches = [&](const std::string& target) {
    return notification.targets.empty() || contains(notification.targets, target);
  };
  const auto registry_matches = [&](const std::string& registry) {
    return notification.registries.empty() || contains(notification.registries, registry);
  };
  for (const auto& outcome : summary.outcomes) {
    if (failed_only && !is_failed_status(outcome.status)) continue;
    if (target_matches(outcome.target) && registry_matches(outcome.registry)) return true;
  }
  // A failed build or a registry rejected before building leaves no outcome.
  if (!notification.targets.empty()) {
    for (const auto& target : summary.failed_targets) {
      if (contains(notification.targets, target)) return true;
    }
  }
  if (!notification.registries.empty()) {
    for (const auto& registry : summary.failed_registries) {
      if (contains(notification.registries, registry)) return true;
    }
  }
  return false;
}

std::string url_for_log(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return url.empty() ? "" : "****";
  const size_t authority_begin = scheme_end + 3;
  const size_t authority_end = url.find_first_of("/?#", authority_begin);
  std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  // Drop user:password@ as well.
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string result = std::string(url.substr(0, authority_begin)) + std::string(authority);
  if (authority_end != std::string_view::npos && url.substr(authority_end) != "/") result += "/****";
  return result;
}

}  // namespace detail

namespace {

constexpr std::chrono::seconds kTimeout{10};
constexpr std::chrono::seconds kRetryDelay{1};

struct Delivery {
  bool ok = false;
  long status = 0;    // last HTTP status, 0 when none arrived
  std::string error;  // empty when ok
  int attempts = 0;
};

Delivery post_webhook(http::Client& client, const config::Notify& notification, const RunSummary& summary) {
  http::Request request;
  request.method = "POST";
  request.url = notification.url;
  request.body = detail::webhook_body(summary);
  request.timeout = kTimeout;
  request.headers = {{"Content-Type", "application/json"}, {"User-Agent", "docker-multipush"}};
  if (notification.secret && !notification.secret->empty()) {
    request.headers.emplace_back("X-Multipush-Signature",
                                 detail::webhook_signature(request.body, *notification.secret));
  }

  Delivery delivery;
  // One retry, after a connection error or a 5xx response.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    delivery.attempts = attempt;
    auto response = client.send(request);
    bool retry = false;
    if (!response) {
      delivery.error = response.error().message;
      retry = response.error().retryable;
    } else {
      delivery.status = response->status;
      delivery.ok = response->status >= 200 && response->status < 300;
      delivery.error = delivery.ok ? "" : fmt::format("the receiver returned HTTP {}", response->status);
      retry = response->status >= 500;
    }
    if (delivery.ok || !retry || attempt == 2) break;
    std::this_thread::sleep_for(kRetryDelay);
  }
  return delivery;
}

void report_delivery(const config::Notify& notification, const Delivery& delivery, RunLog& log,
                     output::Printer* printer) {
  const std::string url = detail::url_for_log(notification.url);
  nlohmann::json fields{
      {"type", notification.type}, {"url", url}, {"ok", delivery.ok}, {"attempts", delivery.attempts}};
  if (delivery.status != 0) fields["status"] = delivery.status;
  if (!delivery.ok) fields["error"] = delivery.error;
  log.write("notification", fields);
  if (!delivery.ok && printer != nullptr) {
    printer->warning(fmt::format("{} notification to {} failed: {}; the run's result is unchanged",
                                 notification.type, url, delivery.error));
  }
}

}  // namespace

void notify(const std::vector<config::Notify>& notifications, const RunSummary& summary, RunLog& log,
            output::Printer* printer) {
  std::unique_ptr<http::Client> client;
  for (const auto& notification : notifications) {
    try {
      if (!detail::should_notify(notification, summary)) continue;

      if (notification.type != "webhook") {
        const std::string message =
            fmt::format("notification type {} is not supported yet", notification.type);
        log.write("notification", {{"type", notification.type},
                                   {"url", detail::url_for_log(notification.url)},
                                   {"ok", false},
                                   {"error", message}});
        if (printer != nullptr) printer->warning(message + "; it was skipped");
        continue;
      }

      if (!client) client = std::make_unique<http::Client>();
      report_delivery(notification, post_webhook(*client, notification, summary), log, printer);
    } catch (const std::exception& error) {
      // Logging the failure must not throw either, so a second failure here
      // is dropped.
      try {
        report_delivery(notification, Delivery{.error = error.what()}, log, printer);
      } catch (...) {
      }
    } catch (...) {
    }
  }
}

}  // namespace multipush::report
