#include "multipush/report/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace multipush::report {
namespace {

std::string join(const std::vector<std::string>& values, std::string_view separator) {
  std::string result;
  for (const auto& value : values) {
    if (!result.empty()) result += separator;
    result += value;
  }
  return result;
}

// "sha256:" and the first 12 hex digits, as `docker images` shows IDs.
std::string short_digest(const std::string& digest) {
  const size_t colon = digest.find(':');
  if (colon == std::string::npos) return digest;
  return digest.substr(0, std::min(digest.size(), colon + 1 + 12));
}

std::string result_line(const RunSummary& summary) {
  return fmt::format("Run {}: {} (exit code {}, {:.1f} s)", summary.run_id, summary.status, summary.exit_code,
                     summary.seconds);
}

// Keeps text inside one Markdown table cell: no line breaks, and no | that
// would end the cell. GitHub applies the \| escape inside code spans too.
std::string table_safe(std::string_view text) {
  std::string result;
  for (char c : text) {
    switch (c) {
      case '|':
        result += "\\|";
        break;
      case '\r':
        break;
      case '\n':
        result += ' ';
        break;
      default:
        result += c;
    }
  }
  return result;
}

// Makes plain text safe in a table cell, where HTML tags would otherwise be
// rendered.
std::string markdown_cell(std::string_view text) {
  std::string result;
  for (char c : table_safe(text)) {
    switch (c) {
      case '<':
        result += "&lt;";
        break;
      case '>':
        result += "&gt;";
        break;
      case '&':
        result += "&amp;";
        break;
      default:
        result += c;
    }
  }
  return result;
}

// Wraps text in a code span that its own backticks cannot close.
std::string markdown_code(std::string_view text) {
  if (text.empty()) return "";
  size_t longest = 0;
  size_t run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = text.front() == '`' || text.back() == '`';
  return fence + (pad ? " " : "") + table_safe(text) + (pad ? " " : "") + fence;
}

}  // namespace

bool is_failed_status(const std::string& status) {
  return status == "failed" || status == "digest mismatch";
}

std::string summary_table(const RunSummary& summary) {
  std::string text = result_line(summary) + "\n";
  if (!summary.failed_targets.empty()) text += "Failed targets: " + join(summary.failed_targets, ", ") + "\n";
  if (!summary.failed_registries.empty()) {
    text += "Failed registries: " + join(summary.failed_registries, ", ") + "\n";
  }
  if (summary.outcomes.empty()) return text;

  using Row = std::array<std::string, 5>;
  std::vector<Row> rows{{"TARGET", "REGISTRY", "TAGS", "DIGEST", "STATUS"}};
  for (const auto& outcome : summary.outcomes) {
    rows.push_back({outcome.target, outcome.registry, join(outcome.tags, ","), short_digest(outcome.digest),
                    outcome.status});
  }
  std::array<size_t, 5> widths{};
  for (const auto& row : rows) {
    for (size_t column = 0; column < row.size(); ++column)
      widths[column] = std::max(widths[column], row[column].size());
  }

  text += "\n";
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size()) line += std::string(widths[column] - row[column].size() + 2, ' ');
    }
    text += line + "\n";
  }

  bool heading = false;
  for (const auto& outcome : summary.outcomes) {
    if (outcome.error.empty()) continue;
    if (!heading) text += "\nErrors:\n";
    heading = true;
    text += fmt::format("  {} on {}: {}\n", outcome.target, outcome.registry, outcome.error);
  }
  heading = false;
  for (const auto& outcome : summary.outcomes) {
    if (outcome.note.empty()) continue;
    if (!heading) text += "\nNotes:\n";
    heading = true;
    text += fmt::format("  {} on {}: {}\n", outcome.target, outcome.registry, outcome.note);
  }
  return text;
}

std::string summary_markdown(const RunSummary& summary) {
  std::string text = fmt::format("### docker-multipush: {}\n\n", markdown_cell(summary.status));
  text += fmt::format("Run {}, exit code {}, {:.1f} s", markdown_code(summary.run_id), summary.exit_code,
                      summary.seconds);
  if (!summary.run_url.empty()) text += fmt::format(" ([workflow run]({}))", summary.run_url);
  text += "\n";
  if (!summary.repository.empty() || !summary.ref.empty() || !summary.sha.empty()) {
    text += fmt::format("\n{} {} {}\n", markdown_cell(summary.repository), markdown_code(summary.ref),
                        markdown_code(summary.sha.substr(0, 12)));
  }
  if (!summary.failed_targets.empty()) {
    text += "\nFailed targets: " + markdown_cell(join(summary.failed_targets, ", ")) + "\n";
  }
  if (!summary.failed_registries.empty()) {
    text += "\nFailed registries: " + markdown_cell(join(summary.failed_registries, ", ")) + "\n";
  }
  if (summary.outcomes.empty()) return text;

  text += "\n| Target | Registry | Tags | Digest | Status |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& outcome : summary.outcomes) {
    std::vector<std::string> tags;
    for (const auto& tag : outcome.tags) tags.push_back(markdown_code(tag));
    std::string registry = outcome.registry;
    if (!outcome.repository.empty()) registry += "/" + outcome.repository;
    std::string status = markdown_cell(outcome.status);
    if (!outcome.error.empty()) status += ": " + markdown_cell(outcome.error);
    if (!outcome.note.empty()) status += " (" + markdown_cell(outcome.note) + ")";
    text += fmt::format("| {} | {} | {} | {} | {} |\n", markdown_cell(outcome.target),
                        markdown_code(registry), join(tags, " "), markdown_code(outcome.digest), status);
  }
  return text;
}

}  // namespace multipush::report
