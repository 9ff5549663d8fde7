#include "tags/csv.hpp"

namespace multipush::tags {
namespace {

struct CsvOptions {
  bool relax_quotes = false;  // a quote that does not start a field is literal text
  bool comments = false;      // '#' outside quotes ends the line
  bool first_record_only = false;
};

using Record = std::vector<std::string>;

bool is_line_break(char c) { return c == '\n' || c == '\r'; }

// A small CSV reader that follows csv-parse (the parser metadata-action uses)
// for the options above. Records end at LF, CRLF or CR. An empty line gives
// no record; a line of spaces gives a record with one field.
class CsvReader {
 public:
  CsvReader(std::string_view text, CsvOptions options) : text_(text), options_(options) {}

  std::expected<std::vector<Record>, std::string> read() {
    while (pos_ < text_.size()) {
      if (options_.first_record_only && !records_.empty()) break;
      if (auto error = read_record(); !error.empty()) return std::unexpected(error);
    }
    return records_;
  }

 private:
  // Reads one line (or a multi-line quoted record) from pos_.
  std::string read_record() {
    Record record;
    std::string field;
    bool at_field_start = true;
    bool in_record = false;  // false while the line is still empty

    while (pos_ < text_.size()) {
      char c = text_[pos_];

      if (is_line_break(c) || (options_.comments && c == '#')) {
        if (c == '#') skip_to_line_end();
        else skip_line_break();
        break;
      }
      in_record = true;
      if (c == ',') {
        record.push_back(std::move(field));
        field.clear();
        at_field_start = true;
        ++pos_;
        continue;
      }
      if (c == '"' && at_field_start) {
        ++pos_;
        if (auto error = read_quoted(field); !error.empty()) return error;
        at_field_start = false;
        if (pos_ < text_.size() && !ends_field(text_[pos_])) {
          return "unexpected text after a closing quote in \"" + std::string(text_) + "\"";
        }
        continue;
      }
      if (c == '"' && !options_.relax_quotes) {
        return "a quote must start the field or be doubled inside a quoted field in \"" +
               std::string(text_) + "\"";
      }
      field.push_back(c);
      at_field_start = false;
      ++pos_;
    }

    if (in_record) {
      record.push_back(std::move(field));
      records_.push_back(std::move(record));
    }
    return {};
  }

  // Reads a quoted field body after the opening quote, up to and including
  // the closing quote. "" stands for one quote.
  std::string read_quoted(std::string& field) {
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c != '"') {
        field.push_back(c);
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '"') {
        field.push_back('"');
        ++pos_;
        continue;
      }
      if (pos_ >= text_.size() || ends_field(text_[pos_])) return {};
      if (options_.relax_quotes) {
        // csv-parse keeps a quote that does not close the field as text.
        field.push_back('"');
        continue;
      }
      return {};
    }
    return "unclosed quote in \"" + std::string(text_) + "\"";
  }

  bool ends_field(char c) const {
    return c == ',' || is_line_break(c) || (options_.comments && c == '#');
  }

  void skip_line_break() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
  }

  void skip_to_line_end() {
    while (pos_ < text_.size() && !is_line_break(text_[pos_])) ++pos_;
    if (pos_ < text_.size()) skip_line_break();
  }

  std::string_view text_;
  CsvOptions options_;
  std::size_t pos_ = 0;
  std::vector<Record> records_;
};

std::string join(const Record& fields, std::string_view separator) {
  std::string joined;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) joined += separator;
    joined += fields[i];
  }
  return joined;
}

}  // namespace

std::string trim(std::string_view text) {
  constexpr std::string_view whitespace = " \t\n\r\f\v";
  auto first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(whitespace);
  return std::string(text.substr(first, last - first + 1));
}

std::expected<std::vector<std::string>, std::string> split_list_input(const std::vector<std::string>& lines) {
  std::string text = trim(join(lines, "\n"));
  if (text.empty()) return std::vector<std::string>{};

  auto records = CsvReader(text, {.relax_quotes = true, .comments = true}).read();
  if (!records) return std::unexpected(records.error());

  std::vector<std::string> entries;
  for (const auto& record : *records) {
    std::string entry = join(record, ",");
    // The action drops entries that are exactly empty before trimming, so a
    // line of spaces survives as an empty entry.
    if (entry.empty()) continue;
    entries.push_back(trim(entry));
  }
  return entries;
}

std::expected<std::vector<std::string>, std::string> split_fields(std::string_view entry) {
  auto records = CsvReader(entry, {.first_record_only = true}).read();
  if (!records) return std::unexpected(records.error());
  if (records->empty()) return std::unexpected(std::string("empty entry"));
  return records->front();
}

}  // namespace multipush::tags
