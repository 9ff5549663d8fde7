#include "tags/pep440.hpp"

#include <cctype>
#include <regex>

namespace multipush::tags {
namespace {

// Groups: 1 epoch, 2 release, 4 pre letter, 6 pre number, 8 implicit post
// number, 9 post letter, 10 post number, 12 dev letter, 13 dev number,
// 14 local.
const std::regex& version_pattern() {
  static const std::regex pattern(
      R"(^v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*))"
      R"(([-_\.]?((a|b|c|rc|alpha|beta|pre|preview))[-_\.]?([0-9]+)?)?)"
      R"(((?:-([0-9]+))|(?:[-_\.]?(post|rev|r)[-_\.]?([0-9]+)?))?)"
      R"(([-_\.]?(dev)[-_\.]?([0-9]+)?)?))"
      R"((?:\+([a-z0-9]+(?:[-_\.][a-z0-9]+)*))?$)",
      std::regex::ECMAScript | std::regex::icase);
  return pattern;
}

// Number(text) for a run of digits, printed back: leading zeros go.
std::string number_text(const std::string& digits) {
  auto first = digits.find_first_not_of('0');
  return first == std::string::npos ? "0" : digits.substr(first);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string letter_version(std::string letter, const std::string& number) {
  letter = lower(std::move(letter));
  if (letter == "alpha") letter = "a";
  if (letter == "beta") letter = "b";
  if (letter == "c" || letter == "pre" || letter == "preview") letter = "rc";
  if (letter == "rev" || letter == "r") letter = "post";
  return letter + (number.empty() ? "0" : number_text(number));
}

}  // namespace

std::string Pep440::clean() const {
  std::string text;
  if (epoch != "0") text += epoch + "!";
  for (std::size_t i = 0; i < release.size(); ++i) text += (i > 0 ? "." : "") + release[i];
  text += pre;
  if (!post.empty()) text += "." + post;
  if (!dev.empty()) text += "." + dev;
  if (!local.empty()) {
    text += "+";
    for (std::size_t i = 0; i < local.size(); ++i) text += (i > 0 ? "," : "") + local[i];
  }
  return text;
}

std::string Pep440::segment(std::size_t index) const { return index < release.size() ? release[index] : "0"; }

std::optional<Pep440> parse_pep440(std::string_view text) {
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, version_pattern())) return std::nullopt;

  Pep440 version;
  version.epoch = m[1].matched ? number_text(m[1].str()) : "0";
  std::string release = m[2].str();
  std::size_t start = 0;
  while (true) {
    auto dot = release.find('.', start);
    version.release.push_back(number_text(release.substr(start, dot - start)));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (m[4].matched) version.pre = letter_version(m[4].str(), m[6].str());
  if (m[9].matched) {
    version.post = letter_version(m[9].str(), m[10].str());
  } else if (m[8].matched) {
    version.post = "post" + number_text(m[8].str());
  }
  if (m[12].matched) version.dev = letter_version(m[12].str(), m[13].str());
  if (m[14].matched) {
    std::string local = m[14].str();
    std::size_t from = 0;
    while (true) {
      auto separator = local.find_first_of("._-", from);
      std::string part = local.substr(from, separator - from);
      bool numeric = part.find_first_not_of("0123456789") == std::string::npos;
      version.local.push_back(numeric ? number_text(part) : lower(part));
      if (separator == std::string::npos) break;
      from = separator + 1;
    }
  }
  return version;
}

}  // namespace multipush::tags
