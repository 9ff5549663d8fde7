#pragma once

#include <atomic>

namespace multipush::pipeline {

// Set once SIGINT or SIGTERM arrives; long-running steps poll it and stop.
const std::atomic<bool>& cancel_flag();
bool cancel_requested();
void request_cancel();

}  // namespace multipush::pipeline
