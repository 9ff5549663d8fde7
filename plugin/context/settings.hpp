#pragma once

#include "multipush/context/context.hpp"

namespace multipush::context {

// Copies the DOCKER_METADATA_* settings, SOURCE_DATE_EPOCH and GITHUB_ACTIONS
// from the environment into `context`. Both context sources call it.
void read_settings(Context& context);

}  // namespace multipush::context
