#include "pipeline/build_record.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "multipush/util/error.hpp"

namespace multipush::pipeline {
namespace {

namespace fs = std::filesystem;

// Version of the file format; a reader rejects any other.
constexpr int kRecordSchema = 1;

nlohmann::json to_json(const BuiltTarget& target) {
  return {{"layout", target.layout.string()}, {"digest", target.digest},
          {"config_digest", target.config_digest}, {"sha", target.sha},
          {"ref", target.ref}, {"built_at", target.built_at}};
}

BuiltTarget from_json(const nlohmann::json& entry) {
  BuiltTarget target;
  target.layout = entry.at("layout").get<std::string>();
  target.digest = entry.at("digest").get<std::string>();
  target.config_digest = entry.value("config_digest", "");
  target.sha = entry.value("sha", "");
  target.ref = entry.value("ref", "");
  target.built_at = entry.value("built_at", "");
  return target;
}

}  // namespace

fs::path build_record_path(const fs::path& base_dir) { return base_dir / ".multipush" / "build.json"; }

BuildRecord read_build_record(const fs::path& path) {
  BuildRecord record;
  std::ifstream input(path);
  if (!input) return record;
  auto invalid = [&path](const std::string& why) {
    return UsageError(fmt::format("{}: {}; delete the file and run `docker multipush build` again", path.string(),
                                  why));
  };
  auto document = nlohmann::json::parse(input, nullptr, false);
  if (document.is_discarded() || !document.is_object()) throw invalid("not a JSON object");
  if (document.value("schema", 0) != kRecordSchema) {
    throw invalid(fmt::format("unsupported schema {} (this version reads {})", document.value("schema", 0),
                              kRecordSchema));
  }
  const auto targets = document.find("targets");
  if (targets == document.end() || !targets->is_object()) throw invalid("no \"targets\" object");
  for (const auto& [name, entry] : targets->items()) {
    try {
      record[name] = from_json(entry);
    } catch (const nlohmann::json::exception& error) {
      throw invalid(fmt::format("invalid entry for target \"{}\": {}", name, error.what()));
    }
  }
  return record;
}

void update_build_record(const fs::path& path, const BuildRecord& built) {
  BuildRecord record = read_build_record(path);
  for (const auto& [name, target] : built) record[name] = target;

  nlohmann::json targets = nlohmann::json::object();
  for (const auto& [name, target] : record) targets[name] = to_json(target);
  const nlohmann::json document = {{"schema", kRecordSchema}, {"targets", targets}};

  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  const fs::path temporary = path.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream output(temporary, std::ios::trunc);
    output << document.dump(2) << '\n';
    output.close();
    if (!output) {
      throw Fatal(ExitCode::internal, fmt::format("cannot write the build record {}; check that the directory "
                                                  "is writable", temporary.string()));
    }
  }
  fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw Fatal(ExitCode::internal, fmt::format("cannot replace the build record {}: {}", path.string(),
                                                error.message()));
  }
}

}  // namespace multipush::pipeline
