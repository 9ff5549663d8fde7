#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "multipush/output/printer.hpp"

namespace multipush::output {

// Push progress, one row per target and registry ("server ghcr.io/acme/app"),
// in the printer's mode:
// - tty: a block of rows (bytes sent, rate, blobs done of total) redrawn in
//   place on stderr every `tty_interval`;
// - plain: a line per finished blob and a total every `plain_interval`;
// - json: a "blob" event per finished blob and a "progress" event per row
//   every `plain_interval`, through Printer::event;
// - quiet: nothing.
// Thread-safe: push workers call sent() and blob_done() concurrently.
class Progress {
 public:
  struct Intervals {
    std::chrono::milliseconds tty{200};
    std::chrono::milliseconds plain{5000};
  };

  // Writes the tty block to `terminal`, every other mode through `printer`.
  Progress(Printer& printer, std::ostream& terminal, Intervals intervals);
  // Writes the tty block to stderr.
  explicit Progress(Printer& printer);
  // Calls stop().
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Adds a row that expects `blobs` blobs of `bytes` bytes in total. A row
  // added twice keeps its first totals.
  void add_row(const std::string& row, std::size_t blobs, std::uint64_t bytes);
  // Counts bytes handed to the network for `row`.
  void sent(const std::string& row, std::uint64_t bytes);
  // Counts a finished blob; `outcome` is "skipped", "mounted", "uploaded" or "failed".
  void blob_done(const std::string& row, std::string_view digest, std::uint64_t size, std::string_view outcome);
  // Stops the timer and prints the final state of every row once.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Formats a byte count with a binary unit: "512 B", "1.5 MiB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace multipush::output
