#include "multipush/output/printer.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "multipush/output/redact.hpp"
#include "multipush/util/env.hpp"

namespace multipush::output {
namespace {

constexpr std::string_view bold = "\x1b[1m";
constexpr std::string_view red = "\x1b[31m";
constexpr std::string_view yellow = "\x1b[33m";
constexpr std::string_view reset = "\x1b[0m";

std::string escape_workflow(std::string_view text, bool property) {
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '%':
        result += "%25";
        break;
      case '\r':
        result += "%0D";
        break;
      case '\n':
        result += "%0A";
        break;
      case ':':
        result += property ? "%3A" : ":";
        break;
      case ',':
        result += property ? "%2C" : ",";
        break;
      default:
        result += c;
    }
  }
  return result;
}

// Serialises one json-mode line. Invalid UTF-8 (from a child process, say)
// is replaced instead of throwing.
std::string dump_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "auto") return Mode::automatic;
  if (text == "tty") return Mode::tty;
  if (text == "plain") return Mode::plain;
  if (text == "quiet") return Mode::quiet;
  if (text == "json") return Mode::json;
  return std::nullopt;
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::automatic:
      return "auto";
    case Mode::tty:
      return "tty";
    case Mode::plain:
      return "plain";
    case Mode::quiet:
      return "quiet";
    case Mode::json:
      return "json";
  }
  return "auto";
}

Mode resolve_mode(Mode mode, bool stderr_is_terminal) {
  if (mode != Mode::automatic) return mode;
  return stderr_is_terminal ? Mode::tty : Mode::plain;
}

bool running_in_github_actions() {
  return util::get_env("GITHUB_ACTIONS") == "true";
}

std::string escape_workflow_data(std::string_view text) {
  return escape_workflow(text, false);
}

std::string escape_workflow_property(std::string_view text) {
  return escape_workflow(text, true);
}

struct Printer::Impl {
  Mode mode;
  bool github_actions;  // false in json mode
  bool color;
  std::ostream& out;
  std::ostream& err;
  std::mutex mutex;
  bool group_open = false;

  Impl(PrinterOptions options, Mode resolved, std::ostream& out_stream, std::ostream& err_stream)
      : mode(resolved),
        github_actions(options.github_actions && resolved != Mode::json),
        // https://no-color.org: a non-empty NO_COLOR turns colours off.
        color(resolved == Mode::tty && util::get_env_or("NO_COLOR", "").empty()),
        out(out_stream),
        err(err_stream) {}

  bool shows_progress() const { return mode == Mode::tty || mode == Mode::plain; }

  std::string styled(std::string_view style, std::string_view text) const {
    if (!color) return std::string(text);
    return std::string(style) + std::string(text) + std::string(reset);
  }

  // Writes a workflow command to stderr, in order with the human lines. The
  // Actions runner processes commands on stderr as on stdout (actions/runner
  // ScriptHandler.cs hands both streams to an OutputManager), and stdout
  // stays free for results such as `build --print > bake.json`.
  void write_command(const std::string& line) {
    err << line << '\n';
    err.flush();
  }

  void write_human(const std::string& line) {
    err << line << '\n';
    err.flush();
  }

  void write_json(const nlohmann::json& value) {
    out << dump_line(value) << '\n';
    out.flush();
  }

  void close_group() {
    if (!group_open) return;
    write_command("::endgroup::");
    group_open = false;
  }
};

Printer::Printer(PrinterOptions options)
    : impl_(std::make_unique<Impl>(options, resolve_mode(options.mode, ::isatty(STDERR_FILENO) == 1),
                                   std::cout, std::cerr)) {}

Printer::Printer(PrinterOptions options, std::ostream& out, std::ostream& err)
    : impl_(std::make_unique<Impl>(options, resolve_mode(options.mode, false), out, err)) {}

Printer::~Printer() {
  std::lock_guard lock(impl_->mutex);
  impl_->close_group();
}

Mode Printer::mode() const {
  return impl_->mode;
}

void Printer::step(std::string_view title) {
  const std::string text = redact(title);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mode == Mode::json) {
    impl_->write_json({{"type", "step"}, {"title", text}});
    return;
  }
  if (!impl_->shows_progress()) return;
  impl_->close_group();
  if (impl_->github_actions) {
    impl_->write_command("::group::" + escape_workflow_data(text));
    impl_->group_open = true;
    return;
  }
  impl_->write_human(impl_->styled(bold, "==> " + text));
}

void Printer::end_step() {
  std::lock_guard lock(impl_->mutex);
  impl_->close_group();
}

void Printer::info(std::string_view message) {
  const std::string text = redact(message);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mode == Mode::json) {
    impl_->write_json({{"type", "info"}, {"message", text}});
    return;
  }
  if (!impl_->shows_progress()) return;
  impl_->write_human(text);
}

void Printer::warning(std::string_view message) {
  const std::string text = redact(message);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mode == Mode::json) {
    impl_->write_json({{"type", "warning"}, {"message", text}});
    return;
  }
  if (!impl_->shows_progress()) return;
  if (impl_->github_actions) {
    impl_->write_command("::warning::" + escape_workflow_data(text));
    return;
  }
  impl_->write_human(impl_->styled(yellow, "warning:") + " " + text);
}

void Printer::error(std::string_view title, std::string_view message) {
  const std::string title_text = redact(title);
  const std::string text = redact(message);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mode == Mode::json) {
    impl_->write_json({{"type", "error"}, {"title", title_text}, {"message", text}});
    return;
  }
  if (impl_->github_actions) {
    // The runner prints the annotation in the log as well, so no plain line.
    std::string command = "::error";
    if (!title_text.empty()) command += " title=" + escape_workflow_property(title_text);
    impl_->write_command(command + "::" + escape_workflow_data(text));
    return;
  }
  std::string line = impl_->styled(red, "error:") + " ";
  if (!title_text.empty()) line += title_text + ": ";
  impl_->write_human(line + text);
}

void Printer::summary(std::string_view text) {
  std::string redacted = redact(text);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mode == Mode::json) {
    impl_->write_json({{"type", "summary"}, {"text", redacted}});
    return;
  }
  impl_->close_group();
  if (!redacted.empty() && redacted.back() == '\n') redacted.pop_back();
  impl_->write_human(redacted);
}

void Printer::event(const nlohmann::json& event) {
  if (impl_->mode != Mode::json) return;
  const nlohmann::json redacted = redact_json(event);
  std::lock_guard lock(impl_->mutex);
  impl_->write_json(redacted);
}

void Printer::result(std::string_view text) {
  std::string redacted = redact(text);
  if (redacted.empty() || redacted.back() != '\n') redacted += '\n';
  std::lock_guard lock(impl_->mutex);
  impl_->err.flush();
  impl_->out << redacted;
  impl_->out.flush();
}

}  // namespace multipush::output
