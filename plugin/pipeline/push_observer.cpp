#include "pipeline/push_observer.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace multipush::pipeline {

namespace {

std::string short_digest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(0, colon + 13);
}

}  // namespace

std::string PushObserver::row(const push::Destination& destination) const {
  std::string name = destination.registry + "/" + destination.repository;
  return target_.empty() ? name : target_ + " " + name;
}

void PushObserver::planned(const push::Destination& destination, std::size_t blobs, std::uint64_t bytes) {
  progress_.add_row(row(destination), blobs, bytes);
}

void PushObserver::sent(const push::Destination& destination, std::uint64_t bytes) {
  progress_.sent(row(destination), bytes);
}

void PushObserver::blob(const push::Destination& destination, const std::string& digest, std::uint64_t size,
                        std::string_view outcome, std::uint64_t bytes_sent, double seconds, int attempts) {
  log_.write("blob", {{"target", target_},
                      {"registry", destination.registry},
                      {"repository", destination.repository},
                      {"digest", digest},
                      {"size", size},
                      {"outcome", outcome},
                      {"bytes", bytes_sent},
                      {"seconds", seconds},
                      {"attempts", attempts}});
  progress_.blob_done(row(destination), digest, size, outcome);
}

void PushObserver::manifest(const push::Destination& destination, const std::string& digest,
                            std::string_view media_type, bool ok) {
  log_.write("manifest", {{"target", target_},
                          {"registry", destination.registry},
                          {"repository", destination.repository},
                          {"digest", digest},
                          {"media_type", media_type},
                          {"ok", ok}});
}

void PushObserver::tag(const push::Destination& destination, const std::string& tag, const std::string& digest,
                       bool ok) {
  log_.write("tag", {{"target", target_},
                     {"registry", destination.registry},
                     {"repository", destination.repository},
                     {"tag", tag},
                     {"digest", digest},
                     {"ok", ok}});
  if (ok && printer_.mode() != output::Mode::tty) {
    printer_.info(fmt::format("  {}/{}:{} -> {}", destination.registry, destination.repository, tag,
                              short_digest(digest)));
  }
}

}  // namespace multipush::pipeline
