#include <doctest/doctest.h>

#include "multipush/util/http.hpp"

using multipush::http::resolve_url;
using multipush::http::url_encode;

TEST_CASE("resolve_url RFC 3986 normal examples") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  for (const auto& [reference, expected] : cases) {
    CAPTURE(reference);
    CHECK(resolve_url(base, reference) == expected);
  }
}

TEST_CASE("resolve_url RFC 3986 abnormal examples") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (const auto& [reference, expected] : cases) {
    CAPTURE(reference);
    CHECK(resolve_url(base, reference) == expected);
  }
}

TEST_CASE("resolve_url upload locations") {
  const std::string request = "https://127.0.0.1:5000/v2/acme/app/blobs/uploads/";
  CHECK(resolve_url(request, "/v2/acme/app/blobs/uploads/4f7?_state=abc%3D") ==
        "https://127.0.0.1:5000/v2/acme/app/blobs/uploads/4f7?_state=abc%3D");
  CHECK(resolve_url(request, "https://storage.example/upload?sig=x") == "https://storage.example/upload?sig=x");
  CHECK(resolve_url("http://[::1]:5000/v2/", "a/b") == "http://[::1]:5000/v2/a/b");
  CHECK(resolve_url("http://h", "x") == "http://h/x");
}

TEST_CASE("url_encode digests and scopes") {
  CHECK(url_encode("sha256:abc") == "sha256%3Aabc");
  CHECK(url_encode("sha256+b64u:a-b_c") == "sha256%2Bb64u%3Aa-b_c");
  CHECK(url_encode("repository:acme/app:pull,push") == "repository%3Aacme%2Fapp%3Apull%2Cpush");
  CHECK(url_encode("a b~.") == "a%20b~.");
  CHECK(url_encode("") == "");
}
