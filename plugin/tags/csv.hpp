#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace multipush::tags {

// Splits a metadata-action list input (`images`, `tags`, `flavor`, `labels`,
// `annotations`) into entries as the action does. The lines are parsed as CSV
// with relaxed quotes and `#` comments. Each record's fields are joined again
// with ',', so the quotes are gone. Empty entries are dropped and the rest are
// trimmed. In v5 a `#` outside quotes ends the line wherever it appears.
// Returns an error message for an unclosed quote.
std::expected<std::vector<std::string>, std::string> split_list_input(const std::vector<std::string>& lines);

// Splits one entry into its comma-separated fields with strict CSV quoting
// and no comments, keeping the first record only. Returns an error message
// for an empty entry, a quote inside an unquoted field, text after a closing
// quote, or an unclosed quote.
std::expected<std::vector<std::string>, std::string> split_fields(std::string_view entry);

// Removes leading and trailing whitespace, line breaks included.
std::string trim(std::string_view text);

}  // namespace multipush::tags
