#pragma once

#include <string>
#include <utility>
#include <vector>

#include "multipush/pipeline/options.hpp"
#include "multipush/util/error.hpp"

namespace multipush::cli {

// Splits docker's global options (given before `multipush` when the docker
// CLI runs the plugin) from the plugin's own arguments. Without `multipush`
// in the list, as in a standalone `docker-multipush ...` run, only leading
// docker global options are taken.
std::pair<pipeline::DockerGlobals, std::vector<std::string>> split_docker_globals(
    const std::vector<std::string>& args);

// Parses the plugin's arguments and runs the command.
ExitCode run(const std::vector<std::string>& args);

}  // namespace multipush::cli
