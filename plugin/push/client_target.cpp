#include <map>
#include <memory>

#include "push/target.hpp"

namespace multipush::push {

namespace {

// Forwards the push engine's operations to a RegistryClient.
class ClientTarget final : public detail::Target {
 public:
  explicit ClientTarget(registry::RegistryClient& client) : client_(client) {}

  registry::Result<void> check_push_access(const std::string& repository) override {
    return client_.check_push_access(repository);
  }
  registry::Result<bool> blob_exists(const std::string& repository, const std::string& digest) override {
    return client_.blob_exists(repository, digest);
  }
  registry::Result<std::optional<registry::UploadSession>> mount_blob(const std::string& repository,
                                                                     const std::string& digest,
                                                                     const std::string& from_repository) override {
    return client_.mount_blob(repository, digest, from_repository);
  }
  registry::Result<registry::UploadSession> start_upload(const std::string& repository) override {
    return client_.start_upload(repository);
  }
  registry::Result<void> upload_blob(const registry::UploadSession& session, const std::string& digest,
                                     std::uint64_t size, const registry::BlobSource& source) override {
    return client_.upload_blob(session, digest, size, source);
  }
  registry::Result<std::string> put_manifest(const std::string& repository, const std::string& reference,
                                             const std::string& media_type, const std::string& bytes) override {
    return client_.put_manifest(repository, reference, media_type, bytes);
  }
  registry::Result<std::optional<std::string>> head_manifest(const std::string& repository,
                                                             const std::string& reference) override {
    return client_.head_manifest(repository, reference);
  }
  registry::Result<void> add_referrer(const std::string& repository, const std::string& subject_digest,
                                      const oci::Descriptor& referrer) override {
    auto api = client_.referrers_api(repository, subject_digest);
    if (!api) {
      return std::unexpected(api.error());
    }
    if (api->has_value()) {
      return {};
    }
    return client_.add_to_referrers_tag(repository, subject_digest, referrer);
  }

 private:
  registry::RegistryClient& client_;
};

}  // namespace

namespace {

std::vector<DestinationResult> push_through_clients(const oci::Image& image, BlobStore* store,
                                                    const std::vector<Destination>& destinations, Observer& observer,
                                                    const std::atomic<bool>& cancelled, const PushOptions& options) {
  std::map<registry::RegistryClient*, std::unique_ptr<ClientTarget>> adapters;
  std::vector<detail::Target*> targets;
  for (const auto& destination : destinations) {
    if (destination.client == nullptr) {
      throw std::logic_error("push destination " + destination.registry + "/" + destination.repository +
                             " has no registry client");
    }
    auto& adapter = adapters[destination.client];
    if (!adapter) {
      adapter = std::make_unique<ClientTarget>(*destination.client);
    }
    targets.push_back(adapter.get());
  }
  return detail::push_to_targets(image, destinations, targets, observer, cancelled, {}, options, store);
}

}  // namespace

std::vector<DestinationResult> push_image(const oci::Image& image, const std::vector<Destination>& destinations,
                                          Observer& observer, const std::atomic<bool>& cancelled,
                                          const PushOptions& options) {
  return push_through_clients(image, nullptr, destinations, observer, cancelled, options);
}

std::vector<DestinationResult> push_image(const oci::Image& image, BlobStore& blobs,
                                          const std::vector<Destination>& destinations, Observer& observer,
                                          const std::atomic<bool>& cancelled, const PushOptions& options) {
  return push_through_clients(image, &blobs, destinations, observer, cancelled, options);
}

}  // namespace multipush::push
