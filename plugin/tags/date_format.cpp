#include "tags/date_format.hpp"

#include <array>
#include <cstdlib>
#include <stdexcept>

#include <date/date.h>
#include <date/iso_week.h>
#include <date/tz.h>

#include "tags/template.hpp"

namespace multipush::tags {
namespace {

using namespace std::chrono;

constexpr std::array<const char*, 12> kMonthNames = {"January", "February", "March",     "April",
                                                     "May",     "June",     "July",      "August",
                                                     "September", "October", "November", "December"};
constexpr std::array<const char*, 7> kWeekdayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday", "Saturday"};

std::string pad(long long value, int width) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
  return value < 0 ? "-" + digits : digits;
}

std::string ordinal(long long n) {
  long long tens = n % 100;
  const char* suffix = "th";
  if (tens < 11 || tens > 13) {
    switch (n % 10) {
      case 1: suffix = "st"; break;
      case 2: suffix = "nd"; break;
      case 3: suffix = "rd"; break;
      default: break;
    }
  }
  return std::to_string(n) + suffix;
}

std::string format_offset(seconds offset, bool with_colon) {
  long long total = offset.count();
  char sign = total < 0 ? '-' : '+';
  total = total < 0 ? -total : total;
  return std::string(1, sign) + pad(total / 3600, 2) + (with_colon ? ":" : "") + pad(total / 60 % 60, 2);
}

// The calendar fields of one instant in one zone.
struct Fields {
  date::year_month_day ymd;
  date::weekday weekday;
  long long hour, minute, second, millisecond;
  int day_of_year;
  int iso_week, iso_week_year;
  int locale_week, locale_week_year;  // en: weeks start on Sunday, week 1 contains January 1
  seconds offset;
  std::string abbreviation;
  long long unix_milliseconds;
};

Fields compute_fields(system_clock::time_point time, const date::time_zone& zone) {
  Fields f;
  auto ms = floor<milliseconds>(time);
  auto info = zone.get_info(floor<seconds>(ms));
  f.offset = info.offset;
  f.abbreviation = info.abbrev;
  f.unix_milliseconds = ms.time_since_epoch().count();

  // Shift to local wall time, then split into day and time of day.
  auto local = ms + info.offset;
  auto day = floor<date::days>(local);
  auto time_of_day = local - day;
  f.ymd = date::year_month_day(day);
  f.weekday = date::weekday(day);
  f.hour = duration_cast<hours>(time_of_day).count();
  f.minute = duration_cast<minutes>(time_of_day).count() % 60;
  f.second = duration_cast<seconds>(time_of_day).count() % 60;
  f.millisecond = time_of_day.count() % 1000;
  f.day_of_year = static_cast<int>((day - date::sys_days(f.ymd.year() / 1 / 1)).count()) + 1;

  iso_week::year_weeknum_weekday iso(day);
  f.iso_week = static_cast<int>(static_cast<unsigned>(iso.weeknum()));
  f.iso_week_year = static_cast<int>(iso.year());

  auto sunday = day - date::days(f.weekday.c_encoding());
  auto week_year = date::year_month_day(sunday + date::days(6)).year();
  date::sys_days january_first = week_year / 1 / 1;
  auto first_sunday = january_first - date::days(date::weekday(january_first).c_encoding());
  f.locale_week = static_cast<int>((sunday - first_sunday).count() / 7) + 1;
  f.locale_week_year = static_cast<int>(week_year);
  return f;
}

// Formats one moment token, or returns nullopt when `token` is not one.
std::optional<std::string> format_token(std::string_view token, const Fields& f) {
  const long long year = static_cast<int>(f.ymd.year());
  const long long month = static_cast<unsigned>(f.ymd.month());
  const long long day = static_cast<unsigned>(f.ymd.day());
  const long long weekday = f.weekday.c_encoding();
  const long long hour12 = f.hour % 12 == 0 ? 12 : f.hour % 12;

  if (token == "M") return std::to_string(month);
  if (token == "Mo") return ordinal(month);
  if (token == "MM") return pad(month, 2);
  if (token == "MMM") return std::string(kMonthNames[month - 1]).substr(0, 3);
  if (token == "MMMM") return kMonthNames[month - 1];
  if (token == "Q") return std::to_string((month - 1) / 3 + 1);
  if (token == "Qo") return ordinal((month - 1) / 3 + 1);
  if (token == "D") return std::to_string(day);
  if (token == "Do") return ordinal(day);
  if (token == "DD") return pad(day, 2);
  if (token == "DDD") return std::to_string(f.day_of_year);
  if (token == "DDDo") return ordinal(f.day_of_year);
  if (token == "DDDD") return pad(f.day_of_year, 3);
  if (token == "d" || token == "e") return std::to_string(weekday);
  if (token == "do") return ordinal(weekday);
  if (token == "dd") return std::string(kWeekdayNames[weekday]).substr(0, 2);
  if (token == "ddd") return std::string(kWeekdayNames[weekday]).substr(0, 3);
  if (token == "dddd") return kWeekdayNames[weekday];
  if (token == "E") return std::to_string(weekday == 0 ? 7 : weekday);
  if (token == "w") return std::to_string(f.locale_week);
  if (token == "wo") return ordinal(f.locale_week);
  if (token == "ww") return pad(f.locale_week, 2);
  if (token == "W") return std::to_string(f.iso_week);
  if (token == "Wo") return ordinal(f.iso_week);
  if (token == "WW") return pad(f.iso_week, 2);
  if (token == "Y") return year <= 9999 ? pad(year, 4) : "+" + std::to_string(year);
  if (token == "YY") return pad(year % 100, 2);
  if (token == "YYYY") return pad(year, 4);
  if (token == "YYYYY") return pad(year, 5);
  if (token == "YYYYYY") return (year < 0 ? "-" : "+") + pad(year < 0 ? -year : year, 6);
  if (token == "gg") return pad(f.locale_week_year % 100, 2);
  if (token == "gggg") return pad(f.locale_week_year, 4);
  if (token == "ggggg") return pad(f.locale_week_year, 5);
  if (token == "GG") return pad(f.iso_week_year % 100, 2);
  if (token == "GGGG") return pad(f.iso_week_year, 4);
  if (token == "GGGGG") return pad(f.iso_week_year, 5);
  if (token == "a") return f.hour < 12 ? "am" : "pm";
  if (token == "A") return f.hour < 12 ? "AM" : "PM";
  if (token == "H") return std::to_string(f.hour);
  if (token == "HH") return pad(f.hour, 2);
  if (token == "h") return std::to_string(hour12);
  if (token == "hh") return pad(hour12, 2);
  if (token == "k") return std::to_string(f.hour == 0 ? 24 : f.hour);
  if (token == "kk") return pad(f.hour == 0 ? 24 : f.hour, 2);
  if (token == "Hmm") return std::to_string(f.hour) + pad(f.minute, 2);
  if (token == "Hmmss") return std::to_string(f.hour) + pad(f.minute, 2) + pad(f.second, 2);
  if (token == "hmm") return std::to_string(hour12) + pad(f.minute, 2);
  if (token == "hmmss") return std::to_string(hour12) + pad(f.minute, 2) + pad(f.second, 2);
  if (token == "m") return std::to_string(f.minute);
  if (token == "mm") return pad(f.minute, 2);
  if (token == "s") return std::to_string(f.second);
  if (token == "ss") return pad(f.second, 2);
  if (token.starts_with('S') && token.find_first_not_of('S') == std::string_view::npos) {
    const auto width = static_cast<int>(token.size());
    if (width == 1) return std::to_string(f.millisecond / 100);
    if (width == 2) return pad(f.millisecond / 10, 2);
    return pad(f.millisecond, 3) + std::string(width - 3, '0');
  }
  if (token == "X") return std::to_string(f.unix_milliseconds >= 0 ? f.unix_milliseconds / 1000
                                                                    : (f.unix_milliseconds - 999) / 1000);
  if (token == "x") return std::to_string(f.unix_milliseconds);
  if (token == "z" || token == "zz") return f.abbreviation;
  if (token == "Z") return format_offset(f.offset, true);
  if (token == "ZZ") return format_offset(f.offset, false);
  return std::nullopt;
}

// Returns the length of the moment token at the start of `rest`, trying the
// alternatives in the order moment's tokenizer does.
std::size_t match_token(std::string_view rest) {
  static constexpr std::string_view kTokens[] = {
      "Hmmss", "Hmm",  "hmmss", "hmm",   "Mo",     "MMMM",  "MMM",  "MM",   "M",    "Do",   "DDDo", "DDDD",
      "DDD",   "DD",   "D",     "dddd",  "ddd",    "dd",    "do",   "d",    "wo",   "ww",   "w",    "Wo",
      "WW",    "W",    "Qo",    "Q",     "YYYYYY", "YYYYY", "YYYY", "YY",   "ggggg", "gggg", "gg",   "GGGGG",
      "GGGG",  "GG",   "e",     "E",     "a",      "A",     "hh",   "h",    "HH",   "H",    "kk",   "k",
      "mm",    "m",    "ss",    "s",     "x",      "X",     "zz",   "z",    "ZZ",   "Z"};
  for (auto token : kTokens) {
    if (rest.starts_with(token)) return token.size();
  }
  if (rest.starts_with('S')) {
    std::size_t length = rest.find_first_not_of('S');
    if (length == std::string_view::npos) length = rest.size();
    return std::min<std::size_t>(length, 9);
  }
  if (rest.starts_with('Y')) return 1;
  return 0;
}

std::string format_fields(std::string_view format, const Fields& fields) {
  std::string output;
  std::size_t pos = 0;
  while (pos < format.size()) {
    std::string_view rest = format.substr(pos);

    if (rest.front() == '[') {
      auto close = rest.find(']');
      auto nested = rest.find('[', 1);
      if (close != std::string_view::npos && (nested == std::string_view::npos || nested > close)) {
        output += rest.substr(1, close - 1);
        pos += close + 1;
        continue;
      }
    }
    if (rest.front() == 'N' || rest.front() == 'y') {
      throw TemplateError("the moment.js era token '" + std::string(1, rest.front()) +
                          "' is not supported in date format \"" + std::string(format) + "\"");
    }
    // A backslash makes the following token literal.
    bool literal = rest.front() == '\\';
    if (literal) rest.remove_prefix(1);
    if (rest.empty()) break;

    std::size_t length = match_token(rest);
    if (length == 0) {
      output.push_back(rest.front());
      pos += (literal ? 2 : 1);
      continue;
    }
    std::string_view token = rest.substr(0, length);
    output += literal ? std::string(token) : format_token(token, fields).value_or(std::string(token));
    pos += length + (literal ? 1 : 0);
  }
  return output;
}

const date::time_zone& find_zone(const std::string& zone) {
  try {
    return *date::locate_zone(zone);
  } catch (const std::runtime_error&) {
    throw TemplateError("unknown time zone \"" + zone +
                        "\"; use an IANA zone name such as UTC or Asia/Shanghai");
  }
}

int read_digits(std::string_view text, std::size_t& pos, std::size_t count, bool& ok) {
  int value = 0;
  for (std::size_t i = 0; i < count; ++i, ++pos) {
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
      ok = false;
      return 0;
    }
    value = value * 10 + (text[pos] - '0');
  }
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

std::string format_moment(system_clock::time_point time, const std::optional<std::string>& format,
                          const std::string& zone) {
  const auto fields = compute_fields(time, find_zone(zone));
  if (!format) {
    return format_fields(fields.offset == seconds(0) ? "YYYY-MM-DDTHH:mm:ss[Z]" : "YYYY-MM-DDTHH:mm:ssZ", fields);
  }
  return format_fields(*format, fields);
}

std::optional<system_clock::time_point> parse_iso8601(std::string_view text) {
  bool ok = true;
  std::size_t pos = 0;
  int year = read_digits(text, pos, 4, ok);
  ok = ok && expect(text, pos, '-');
  int month = read_digits(text, pos, 2, ok);
  ok = ok && expect(text, pos, '-');
  int day = read_digits(text, pos, 2, ok);
  ok = ok && (expect(text, pos, 'T') || expect(text, pos, ' '));
  int hour = read_digits(text, pos, 2, ok);
  ok = ok && expect(text, pos, ':');
  int minute = read_digits(text, pos, 2, ok);
  ok = ok && expect(text, pos, ':');
  int second = read_digits(text, pos, 2, ok);
  if (!ok) return std::nullopt;

  milliseconds fraction{0};
  if (expect(text, pos, '.')) {
    long long scale = 100;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += milliseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }

  expect(text, pos, ' ');
  seconds offset{0};
  if (expect(text, pos, 'Z') || expect(text, pos, 'z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos++] == '-' ? -1 : 1;
    int offset_hours = read_digits(text, pos, 2, ok);
    expect(text, pos, ':');
    int offset_minutes = read_digits(text, pos, 2, ok);
    if (!ok) return std::nullopt;
    offset = seconds(sign * (offset_hours * 3600 + offset_minutes * 60));
  }
  if (pos != text.size()) return std::nullopt;

  date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                           date::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  auto local = date::sys_days(ymd) + hours(hour) + minutes(minute) + seconds(second) + fraction;
  return time_point_cast<system_clock::duration>(local - offset);
}

std::string format_iso8601_utc(system_clock::time_point time) {
  return date::format("%FT%TZ", floor<milliseconds>(time));
}

}  // namespace multipush::tags
