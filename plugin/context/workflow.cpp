#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include "context/settings.hpp"
#include "multipush/context/context.hpp"
#include "multipush/util/env.hpp"
#include "multipush/util/error.hpp"

namespace multipush::context {
namespace {

nlohmann::json read_payload(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return nlohmann::json::object();

  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw UsageError("cannot read the event payload " + path.string() +
                     " (GITHUB_EVENT_PATH); check that the file is readable");
  }
  std::stringstream text;
  text << file.rdbuf();

  nlohmann::json payload;
  try {
    payload = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("invalid JSON in the event payload " + path.string() +
                     " (GITHUB_EVENT_PATH): " + e.what());
  }
  if (payload.is_null()) return nlohmann::json::object();
  if (!payload.is_object()) {
    throw UsageError("invalid event payload " + path.string() +
                     " (GITHUB_EVENT_PATH): expected a JSON object, found " + payload.type_name());
  }
  return payload;
}

// Returns the string at `pointer`, or nullopt when it is missing or not a string.
std::optional<std::string> string_at(const nlohmann::json& json, const char* pointer) {
  const nlohmann::json::json_pointer path(pointer);
  if (!json.contains(path)) return std::nullopt;
  const auto& value = json.at(path);
  if (!value.is_string()) return std::nullopt;
  return value.get<std::string>();
}

bool contains_true_ignoring_case(std::string value) {
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value.find("true") != std::string::npos;
}

// Finds the commit date as metadata-action does without the REST API: the
// entry of payload.commits with the sha, then payload.head_commit.
std::string find_commit_date(const nlohmann::json& payload, const std::string& sha) {
  if (sha.empty()) return {};
  if (auto commits = payload.find("commits"); commits != payload.end() && commits->is_array()) {
    for (const auto& commit : *commits) {
      if (commit.is_object() && commit.value("id", nlohmann::json()) == sha) {
        if (auto date = string_at(commit, "/timestamp")) return *date;
      }
    }
  }
  if (string_at(payload, "/head_commit/id") == sha) {
    if (auto date = string_at(payload, "/head_commit/timestamp")) return *date;
  }
  return {};
}

}  // namespace

void read_settings(Context& context) {
  context.github_actions = util::get_env("GITHUB_ACTIONS") == "true";
  context.short_sha_length = util::get_env("DOCKER_METADATA_SHORT_SHA_LENGTH");
  // An empty variable counts as unset, as `||` does in the action.
  context.annotation_levels = util::get_env_or("DOCKER_METADATA_ANNOTATIONS_LEVELS", "manifest");
  context.source_date_epoch = util::get_env("SOURCE_DATE_EPOCH");
  if (context.source_date_epoch && context.source_date_epoch->empty()) context.source_date_epoch.reset();
}

Context from_workflow() {
  Context context;
  context.source = Source::workflow;
  context.event_name = util::get_env_or("GITHUB_EVENT_NAME", "");
  context.ref = util::get_env_or("GITHUB_REF", "");
  context.sha = util::get_env_or("GITHUB_SHA", "");
  context.repository = util::get_env_or("GITHUB_REPOSITORY", "");
  context.base_ref = util::get_env_or("GITHUB_BASE_REF", "");
  context.head_ref = util::get_env_or("GITHUB_HEAD_REF", "");
  context.server_url = util::get_env_or("GITHUB_SERVER_URL", "");
  context.run_id = util::get_env_or("GITHUB_RUN_ID", "");
  read_settings(context);

  if (auto path = util::get_env("GITHUB_EVENT_PATH"); path && !path->empty()) {
    context.payload = read_payload(*path);
  }
  const auto& payload = context.payload;

  // pull_request_target runs with the base branch's ref; the action rewrites
  // it to the PR ref even when the payload has no number ("pr-undefined").
  if (context.event_name.find("pull_request_target") != std::string::npos) {
    std::string number = "undefined";
    if (auto it = payload.find("number"); it != payload.end() && !it->is_null()) {
      number = it->is_string() ? it->get<std::string>() : it->dump();
    }
    context.ref = "refs/pull/" + number + "/merge";
  }

  if (contains_true_ignoring_case(util::get_env_or("DOCKER_METADATA_PR_HEAD_SHA", "")) &&
      context.event_name.find("pull_request") != std::string::npos) {
    if (auto head_sha = string_at(payload, "/pull_request/head/sha")) context.sha = *head_sha;
  }

  if (auto repository = payload.find("repository"); repository != payload.end() && repository->is_object()) {
    context.repository_data = *repository;
    if (auto branch = string_at(*repository, "/default_branch")) context.default_branch = *branch;
    if (context.repository.empty()) {
      auto owner = string_at(*repository, "/owner/login");
      auto name = string_at(*repository, "/name");
      if (owner && name) context.repository = *owner + "/" + *name;
    }
  }

  context.commit_date = find_commit_date(payload, context.sha);
  return context;
}

Context load(std::optional<Source> source, const std::filesystem::path& dir) {
  if (!source) {
    source = util::get_env("GITHUB_ACTIONS") == "true" ? Source::workflow : Source::git;
  }
  return *source == Source::workflow ? from_workflow() : from_git(dir);
}

bool is_pull_request_like(const Context& context) {
  const std::string& event = context.event_name;
  if (event == "pull_request" || event == "pull_request_target" || event == "merge_group") return true;

  const auto& payload = context.payload;
  if (event == "workflow_run") {
    auto trigger = string_at(payload, "/workflow_run/event");
    return trigger == "pull_request" || trigger == "pull_request_target";
  }
  if (event == "push") {
    auto deleted = payload.find("deleted");
    return deleted != payload.end() && deleted->is_boolean() && deleted->get<bool>();
  }
  return false;
}

}  // namespace multipush::context
