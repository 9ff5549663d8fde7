#include "multipush/output/progress.hpp"

#include <fmt/format.h>

#include <array>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace multipush::output {

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string name;
  std::size_t blobs_total = 0;
  std::uint64_t bytes_total = 0;
  std::size_t blobs_done = 0;
  std::size_t blobs_failed = 0;
  std::uint64_t bytes_sent = 0;
  Clock::time_point started = Clock::now();
};

std::string short_digest(std::string_view digest) {
  const auto colon = digest.find(':');
  return std::string(colon == std::string_view::npos ? digest : digest.substr(0, colon + 13));
}

double rate(const Row& row) {
  const double seconds = std::chrono::duration<double>(Clock::now() - row.started).count();
  return seconds > 0 ? static_cast<double>(row.bytes_sent) / seconds : 0;
}

std::string describe(const Row& row) {
  // bytes_total counts every blob the registry may need. Skipped and
  // mounted blobs are never sent, so the sent bytes can stay below it.
  std::string sent = format_bytes(row.bytes_sent);
  if (row.bytes_total > 0) {
    sent += " of " + format_bytes(row.bytes_total);
  }
  std::string text = fmt::format("{}: {} sent, {}/s, {}/{} blobs", row.name, sent,
                                 format_bytes(static_cast<std::uint64_t>(rate(row))), row.blobs_done,
                                 row.blobs_total);
  if (row.blobs_failed > 0) {
    text += fmt::format(", {} failed", row.blobs_failed);
  }
  return text;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

struct Progress::Impl {
  Impl(Printer& printer_in, std::ostream& terminal_in, Intervals intervals_in)
      : printer(printer_in), terminal(terminal_in), intervals(intervals_in), mode(printer_in.mode()) {}

  Row* find(const std::string& name) {
    for (auto& row : rows) {
      if (row.name == name) {
        return &row;
      }
    }
    return nullptr;
  }

  // Redraws the tty block: moves the cursor up over the previous block and
  // rewrites each line. Called with `mutex` held.
  void draw_locked() {
    std::string text;
    if (drawn_lines > 0) {
      text += fmt::format("\x1b[{}A", drawn_lines);
    }
    for (const auto& row : rows) {
      text += "\x1b[2K" + describe(row) + "\n";
    }
    drawn_lines = rows.size();
    terminal << text << std::flush;
  }

  // Prints the periodic total in plain and json modes. Called with `mutex` held.
  void report_totals_locked() {
    if (mode == Mode::json) {
      for (const auto& row : rows) {
        printer.event({{"event", "progress"},
                       {"row", row.name},
                       {"bytes_sent", row.bytes_sent},
                       {"bytes_total", row.bytes_total},
                       {"blobs_done", row.blobs_done},
                       {"blobs_total", row.blobs_total}});
      }
      return;
    }
    std::uint64_t sent = 0;
    std::uint64_t bytes_total = 0;
    std::size_t done = 0;
    std::size_t total = 0;
    for (const auto& row : rows) {
      sent += row.bytes_sent;
      bytes_total += row.bytes_total;
      done += row.blobs_done;
      total += row.blobs_total;
    }
    printer.info(fmt::format("  total: {} of {} sent, {}/{} blobs", format_bytes(sent), format_bytes(bytes_total),
                             done, total));
  }

  void tick() {
    const auto interval = mode == Mode::tty ? intervals.tty : intervals.plain;
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (wake.wait_for(lock, interval, [this] { return stopping; })) {
        break;
      }
      if (rows.empty()) {
        continue;
      }
      if (mode == Mode::tty) {
        draw_locked();
      } else {
        report_totals_locked();
      }
    }
  }

  Printer& printer;
  std::ostream& terminal;
  const Intervals intervals;
  const Mode mode;
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<Row> rows;
  std::size_t drawn_lines = 0;
  bool stopping = false;
  bool stopped = false;
  std::thread timer;
};

Progress::Progress(Printer& printer, std::ostream& terminal, Intervals intervals)
    : impl_(std::make_unique<Impl>(printer, terminal, intervals)) {
  if (impl_->mode != Mode::quiet) {
    impl_->timer = std::thread([this] { impl_->tick(); });
  }
}

Progress::Progress(Printer& printer) : Progress(printer, std::cerr, Intervals{}) {}

Progress::~Progress() { stop(); }

void Progress::add_row(const std::string& row, std::size_t blobs, std::uint64_t bytes) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->find(row) == nullptr) {
    Row added;
    added.name = row;
    added.blobs_total = blobs;
    added.bytes_total = bytes;
    impl_->rows.push_back(added);
  }
}

void Progress::sent(const std::string& row, std::uint64_t bytes) {
  std::lock_guard lock(impl_->mutex);
  if (auto* found = impl_->find(row)) {
    found->bytes_sent += bytes;
  }
}

void Progress::blob_done(const std::string& row, std::string_view digest, std::uint64_t size,
                         std::string_view outcome) {
  std::lock_guard lock(impl_->mutex);
  if (auto* found = impl_->find(row)) {
    ++found->blobs_done;
    if (outcome == "failed") {
      ++found->blobs_failed;
    }
  }
  if (impl_->mode == Mode::plain) {
    impl_->printer.info(fmt::format("  {}: blob {} {} ({})", row, short_digest(digest), outcome, format_bytes(size)));
  } else if (impl_->mode == Mode::json) {
    impl_->printer.event({{"event", "blob"},
                          {"row", row},
                          {"digest", std::string(digest)},
                          {"size", size},
                          {"outcome", std::string(outcome)}});
  }
}

void Progress::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->timer.joinable()) {
    impl_->timer.join();
  }
  std::lock_guard lock(impl_->mutex);
  if (impl_->rows.empty()) {
    return;
  }
  if (impl_->mode == Mode::tty) {
    impl_->draw_locked();
  } else if (impl_->mode == Mode::plain || impl_->mode == Mode::json) {
    impl_->report_totals_locked();
  }
}

}  // namespace multipush::output
