#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace multipush::tags {

// Formats `time` in the IANA time zone `zone` with moment.js 2.30 format
// tokens and the `en` locale, as metadata-action's {{date}} helper does.
// Without a format, moment's default applies: YYYY-MM-DDTHH:mm:ssZ, with a
// literal "Z" when the offset is zero. Throws TemplateError for an unknown
// zone or a token that is not implemented (eras `N` and `y`).
std::string format_moment(std::chrono::system_clock::time_point time, const std::optional<std::string>& format,
                          const std::string& zone);

// Parses an ISO 8601 timestamp such as 2024-03-14T09:08:07+02:00,
// 2024-03-14T07:08:07.5Z or 2024-03-14 09:08:07 +0200. A timestamp without
// an offset is read as UTC. Returns nullopt for any other text.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

// Formats `time` as 2024-03-15T22:45:30.123Z (UTC, milliseconds), as
// JavaScript's Date.toISOString does.
std::string format_iso8601_utc(std::chrono::system_clock::time_point time);

}  // namespace multipush::tags
