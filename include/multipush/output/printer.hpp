#pragma once

#include <iosfwd>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace multipush::output {

// Output style for a person, set by --progress.
enum class Mode {
  automatic,  // tty when stderr is a terminal, else plain
  tty,        // colours and bold headings on stderr
  plain,      // the same lines without escape codes
  quiet,      // errors and the final summary only
  json,       // one JSON object per line on stdout, nothing on stderr
};

// Parses a --progress value: auto, tty, plain, quiet or json.
std::optional<Mode> parse_mode(std::string_view text);

// Returns the --progress spelling of `mode`.
std::string_view mode_name(Mode mode);

// Resolves Mode::automatic: tty when stderr is a terminal, else plain.
// Other modes are returned unchanged.
Mode resolve_mode(Mode mode, bool stderr_is_terminal);

// Returns true when GITHUB_ACTIONS=true, as the Actions runner sets it.
bool running_in_github_actions();

// Escapes the message part of a GitHub Actions workflow command:
// % as %25, CR as %0D, LF as %0A.
std::string escape_workflow_data(std::string_view text);

// Escapes a workflow command property value (such as title=): the data
// escapes plus : as %3A and , as %2C.
std::string escape_workflow_property(std::string_view text);

struct PrinterOptions {
  Mode mode = Mode::automatic;
  // Emit workflow commands: ::group:: per step and ::error::/::warning::
  // annotations. They go to stderr, which the runner reads for commands as it
  // does stdout, and are not written in json mode, which prints nothing on
  // stderr.
  bool github_actions = false;
};

// Prints everything meant for a person. The mode is fixed at construction.
// Human text goes to stderr. JSON events and command results go to stdout.
// Every string passes through redact(). All methods are thread-safe, and each
// call writes and flushes whole lines, so lines from workers never interleave.
class Printer {
 public:
  // Prints to the process's stdout and stderr. Mode::automatic is resolved
  // against isatty(stderr).
  explicit Printer(PrinterOptions options);
  // Prints to the given streams (for tests). Mode::automatic resolves to plain.
  Printer(PrinterOptions options, std::ostream& out, std::ostream& err);
  // Closes an open ::group::.
  ~Printer();
  Printer(const Printer&) = delete;
  Printer& operator=(const Printer&) = delete;

  Mode mode() const;

  // Starts a step ("Building", "Pushing"): a heading, or in GitHub Actions a
  // ::group:: that the next step, end_step() or summary() closes.
  void step(std::string_view title);
  // Closes the current step's ::group::, if any.
  void end_step();
  // Prints a progress line. Hidden in quiet mode.
  void info(std::string_view message);
  // Prints a warning. Hidden in quiet mode.
  void warning(std::string_view message);
  // Prints an error, shown in every mode. In GitHub Actions it becomes an
  // ::error title=...:: annotation instead of a plain line.
  void error(std::string_view title, std::string_view message);
  // Prints the final summary text, shown in every mode.
  void summary(std::string_view text);
  // Writes `event` as one line of JSON on stdout in json mode; ignored in the
  // other modes. Strings in the event are redacted.
  void event(const nlohmann::json& event);
  // Writes a command's result (such as the `meta` output) to stdout in every
  // mode, adding a final newline when `text` has none.
  void result(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace multipush::output
