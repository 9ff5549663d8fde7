#include "multipush/pipeline/cancel.hpp"

namespace multipush::pipeline {
namespace {
std::atomic<bool> cancelled{false};
}

const std::atomic<bool>& cancel_flag() { return cancelled; }
bool cancel_requested() { return cancelled.load(); }
void request_cancel() { cancelled.store(true); }

}  // namespace multipush::pipeline
