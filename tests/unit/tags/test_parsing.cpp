#include <doctest/doctest.h>

#include "multipush/util/error.hpp"
#include "tags/csv.hpp"
#include "tags/date_format.hpp"
#include "tags/expressions.hpp"
#include "tags/labels.hpp"
#include "tags/rules.hpp"
#include "tags/semver.hpp"
#include "tags/template.hpp"
#include "tags/version.hpp"

using namespace multipush::tags;
using multipush::UsageError;
using Strings = std::vector<std::string>;

TEST_CASE("list input quotes and comments") {
  CHECK(split_list_input({"type=raw,\"value=a,b\""}).value() == Strings{"type=raw,value=a,b"});
  CHECK(split_list_input({"type=raw,value=foo#bar"}).value() == Strings{"type=raw,value=foo"});
  CHECK(split_list_input({"# comment", "", "  type=sha  ", "#type=raw,two"}).value() == Strings{"type=sha"});
  CHECK(split_list_input({"type=match,\"\"\"pattern=\\d{1,3}\"\"\""}).value() ==
        Strings{"type=match,\"pattern=\\d{1,3}\""});
  CHECK(split_list_input({"a", "   ", "b"}).value() == Strings{"a", "", "b"});
  CHECK(split_list_input({"say a\"b"}).value() == Strings{"say a\"b"});
  CHECK(split_list_input({}).value().empty());
  CHECK_FALSE(split_list_input({"\"open"}).has_value());
}

TEST_CASE("fields strict quoting") {
  CHECK(split_fields("type=raw,value=foo,").value() == Strings{"type=raw", "value=foo", ""});
  CHECK(split_fields("\"a,b\",c").value() == Strings{"a,b", "c"});
  CHECK(split_fields("a#b").value() == Strings{"a#b"});
  CHECK_FALSE(split_fields("").has_value());
  CHECK_FALSE(split_fields("a\"b").has_value());
  CHECK_FALSE(split_fields("\"a\"b").has_value());
}

TEST_CASE("rule defaults and order") {
  auto rules = parse_rules({"type=sha", "foo", "type=ref,event=pr", "type=schedule", "type=raw,bar,priority=0x10"});
  REQUIRE(rules.size() == 5);
  CHECK(rules[0].type == RuleType::schedule);
  CHECK(rules[0].at("pattern") == "nightly");
  CHECK(rules[1].type == RuleType::ref);
  CHECK(rules[1].at("prefix") == "pr-");
  CHECK(rules[2].type == RuleType::raw);
  CHECK(rules[2].at("value") == "foo");
  CHECK(rules[3].type == RuleType::sha);
  CHECK(rules[3].at("prefix") == "sha-");
  CHECK(rules[3].at("format") == "short");
  CHECK(rules[4].priority == 16);
  CHECK(rules[4].at("enable") == "true");
}

TEST_CASE("rule default list") {
  auto rules = parse_rules({});
  REQUIRE(rules.size() == 4);
  CHECK(rules[0].type == RuleType::schedule);
  CHECK(rules[1].at("event") == "branch");
  CHECK(rules[2].at("event") == "tag");
  CHECK(rules[3].at("event") == "pr");
}

TEST_CASE("rule errors name the rule") {
  for (const char* entry : {"type=foo", "type=ref", "type=ref,event=Branch", "type=raw", "type=semver",
                            "type=sha,format=medium", "type=match,pattern=x,group=a", "type=raw,x,priority=high",
                            ""}) {
    INFO("rule " << entry);
    try {
      parse_rules({entry});
      FAIL_CHECK("expected UsageError");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).find(std::string("\"") + entry + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("flavor entries") {
  auto flavor = parse_flavor({"latest=false", "prefix=p-,suffix=-s,onlatest=true", "suffix=-a=b"});
  CHECK(flavor.latest == "false");
  CHECK(flavor.prefix == "p-");
  CHECK_FALSE(flavor.prefix_on_latest);
  CHECK(flavor.suffix == "-a");
  CHECK(flavor.suffix_on_latest);

  CHECK_FALSE(parse_flavor({"onlatest=true,prefix=foo-"}).prefix_on_latest);
  CHECK_THROWS_AS(parse_flavor({"latest=TRUE"}), UsageError);
  CHECK_THROWS_AS(parse_flavor({"onlatest=yes"}), UsageError);
  CHECK_THROWS_AS(parse_flavor({"latest"}), UsageError);
  CHECK_THROWS_AS(parse_flavor({"color=red"}), UsageError);
}

TEST_CASE("image entries") {
  auto list = parse_images({"org/app,ghcr.io/x/app"});
  REQUIRE(list.size() == 2);
  CHECK(list[1].name == "ghcr.io/x/app");

  auto general = parse_images({"name=org/app", "ghcr.io/x/app,enable=false"});
  REQUIRE(general.size() == 2);
  CHECK(general[0].name == "org/app");
  CHECK_FALSE(general[1].enabled);

  CHECK_THROWS_AS(parse_images({"org/app,enable=maybe"}), UsageError);
  CHECK_THROWS_AS(parse_images({"org/app,tag=x"}), UsageError);
  CHECK_THROWS_AS(parse_images({"enable=true"}), UsageError);
}

TEST_CASE("JavaScript number parsing") {
  CHECK(parse_js_number("") == 0.0);
  CHECK(parse_js_number(" 5 ") == 5.0);
  CHECK(parse_js_number("1e3") == 1000.0);
  CHECK(parse_js_number("0x10") == 16.0);
  CHECK(parse_js_number("-2.5") == -2.5);
  CHECK_FALSE(parse_js_number("foo").has_value());
  CHECK_FALSE(parse_js_number("nan").has_value());
  CHECK_FALSE(parse_js_number("-0x10").has_value());
}

TEST_CASE("template rendering") {
  Scope scope;
  scope.variables = {{"branch", "feature=x"}, {"tag", ""}};
  CHECK(render("{{branch}}", scope) == "feature&#x3D;x");
  CHECK(render("{{{branch}}}", scope) == "feature=x");
  CHECK(render("{{& branch }}", scope) == "feature=x");
  CHECK(render("v-{{nope}}-x", scope) == "v--x");
  CHECK(render("a{{! note }}b{{!-- }} --}}c", scope) == "abc");
  CHECK(render("\\{{branch}}", scope) == "{{branch}}");
  CHECK_THROWS_AS(render("{{branch", scope), TemplateError);
  CHECK(render("{{#if tag}}x{{else}}y{{/if}}", scope) == "y");
  CHECK_THROWS_AS(render("{{#if tag}}x", scope), TemplateError);
  CHECK_THROWS_AS(render("{{branch 'x'}}", scope), TemplateError);

  CHECK(Template("{{ raw }}").is_single_name("raw"));
  CHECK_FALSE(Template("v{{raw}}").is_single_name("raw"));
}

TEST_CASE("date helper arguments") {
  multipush::context::Context context;
  auto now = *parse_iso8601("2024-03-15T22:45:30.123Z");
  Scope scope = date_scope(context, now);
  CHECK(render("{{date 'YYYYMMDD'}}", scope) == "20240315");
  CHECK(render("{{date YYYYMMDD}}", scope) == "2024-03-15T22:45:30Z");
  CHECK(render("{{date YYYYMMDD tz='Asia/Tokyo'}}", scope) == "2024-03-16T07:45:30+09:00");
  CHECK(render("{{commit_date 'YYYY'}}", scope) == "2024");
  CHECK_THROWS_AS(render("{{date}}", scope), TemplateError);
  CHECK_THROWS_AS(render("{{date 'A' 'B'}}", scope), TemplateError);
  CHECK_THROWS_AS(render("{{date 'YYYY' zone='UTC'}}", scope), TemplateError);
  CHECK_THROWS_AS(render("{{date 'YYYY' tz='Mars/Olympus'}}", scope), TemplateError);

  context.commit_date = "2024-03-14T09:08:07+02:00";
  CHECK(render("{{commit_date 'YYYY-MM-DD HH:mm'}}", date_scope(context, now)) == "2024-03-14 07:08");
}

TEST_CASE("moment format tokens") {
  auto time = *parse_iso8601("2024-03-05T09:08:07.045Z");
  CHECK(format_moment(time, "YYYY YY M MM MMM MMMM Mo", "UTC") == "2024 24 3 03 Mar March 3rd");
  CHECK(format_moment(time, "D DD Do DDD DDDD", "UTC") == "5 05 5th 65 065");
  CHECK(format_moment(time, "d dd ddd dddd E", "UTC") == "2 Tu Tue Tuesday 2");
  CHECK(format_moment(time, "H HH h hh k A a m mm s ss", "UTC") == "9 09 9 09 9 AM am 8 08 7 07");
  CHECK(format_moment(time, "S SS SSS X x", "UTC") == "0 04 045 1709629687 1709629687045");
  CHECK(format_moment(time, "Z ZZ z", "Asia/Shanghai") == "+08:00 +0800 CST");
  CHECK(format_moment(time, "[YYYY] Q", "UTC") == "YYYY 1");
  CHECK_THROWS_AS(format_moment(time, "NNNN", "UTC"), TemplateError);

  auto year_end = *parse_iso8601("2024-12-31T12:00:00Z");
  CHECK(format_moment(year_end, "YYYY.WW", "UTC") == "2024.01");
  CHECK(format_moment(year_end, "GGGG.WW", "UTC") == "2025.01");
  CHECK(format_moment(year_end, "gggg.ww", "UTC") == "2025.01");
}

TEST_CASE("ISO 8601 parsing") {
  auto utc = parse_iso8601("2024-03-14T07:08:07Z");
  REQUIRE(utc.has_value());
  CHECK(parse_iso8601("2024-03-14T09:08:07+02:00") == utc);
  CHECK(parse_iso8601("2024-03-14 09:08:07 +0200") == utc);
  CHECK(format_iso8601_utc(*parse_iso8601("2024-03-14T07:08:07.5Z")) == "2024-03-14T07:08:07.500Z");
  CHECK_FALSE(parse_iso8601("yesterday").has_value());
  CHECK_FALSE(parse_iso8601("2024-02-30T00:00:00Z").has_value());
}

TEST_CASE("semver validity") {
  auto version = parse_semver("v1.2.3-beta.1+build.5");
  REQUIRE(version.has_value());
  CHECK(version->major == "1");
  CHECK(version->version() == "1.2.3-beta.1");
  CHECK(version->build == Strings{"build", "5"});
  for (const char* invalid : {"V1.2.3", "v1.2", "=1.2.3", "p1-v1.0.0", "01.2.3", "1.2.3-01", "sometag"}) {
    INFO("version " << invalid);
    CHECK_FALSE(parse_semver(invalid).has_value());
  }
}

TEST_CASE("tag sanitising") {
  CHECK(sanitize_tag("my/feature#1245") == "my-feature-1245");
  CHECK(sanitize_tag("a//b") == "a-b");
  CHECK(sanitize_tag("caf\xc3\xa9+plus") == "caf-plus");
  CHECK(sanitize_tag(".hidden") == ".hidden");
}

TEST_CASE("short sha length") {
  multipush::context::Context context;
  context.sha = "3f786850e387550fdab836ed7e6dc881de23001b";
  CHECK(short_sha(context) == "3f78685");
  context.short_sha_length = "12";
  CHECK(short_sha(context) == "3f786850e387");
  context.short_sha_length = "0";
  CHECK(short_sha(context).empty());
  context.short_sha_length = "100";
  CHECK(short_sha(context) == context.sha);
  context.short_sha_length = "long";
  CHECK_THROWS_AS(short_sha(context), UsageError);
}

TEST_CASE("label collation order") {
  Strings keys = {"Zeta", "org.example.z", "maintainer", "org.example-y", "_under", "MAINTAINER", "1num",
                  "alpha", "org.example_x", "org.opencontainers.image.title"};
  std::sort(keys.begin(), keys.end(), collation_less);
  CHECK(keys == Strings{"_under", "1num", "alpha", "maintainer", "MAINTAINER", "org.example_x", "org.example-y",
                        "org.example.z", "org.opencontainers.image.title", "Zeta"});
}

TEST_CASE("labels override and render") {
  Scope scope;
  scope.variables = {{"branch", "dev"}};
  auto labels = build_labels({{"b", "1"}, {"a", "2"}}, {"b=x=y", "invalid", "{{branch}}.built=yes", "c="}, scope);
  using Labels = std::vector<std::pair<std::string, std::string>>;
  CHECK(labels == Labels{{"a", "2"}, {"b", "x=y"}, {"c", ""}, {"dev.built", "yes"}});
}
