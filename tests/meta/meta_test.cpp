// META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/meta/spec.txt) and against the
// extension it describes: a release whose metadata names another version than the control file
// installs is a broken release.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = PGUT_SOURCE_ROOT;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json meta() {
  return nlohmann::json::parse(read(kRoot / "META.json"));
}

// The value of `key = 'value'` in the control file.
std::string control(const std::string& key) {
  const std::regex line("^\\s*" + key + "\\s*=\\s*'([^']*)'", std::regex::multiline);
  const std::string text = read(kRoot / "extension" / "pg_unit_tests.control");
  std::smatch m;
  return std::regex_search(text, m, line) ? m[1].str() : "";
}

// PGXN versions are semantic versions (three numbers); a control file's 0.1 is 0.1.0.
std::string as_semver(std::string version) {
  const auto dots = std::count(version.begin(), version.end(), '.');
  for (auto i = dots; i < 2; ++i) version += ".0";
  return version;
}

bool is_semver(const std::string& v) {
  static const std::regex semver(
      R"(^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)");
  return std::regex_match(v, semver);
}

}  // namespace

TEST(MetaJson, IsWellFormedJson) {
  EXPECT_NO_THROW(meta()) << "META.json does not parse";
  EXPECT_TRUE(meta().is_object());
}

TEST(MetaJson, HasTheKeysTheSpecRequires) {
  const auto m = meta();
  for (const char* key :
       {"name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"}) {
    EXPECT_TRUE(m.contains(key)) << "missing " << key;
  }
  EXPECT_EQ(m["name"], "pg_unit_tests");
  EXPECT_FALSE(m["abstract"].get<std::string>().empty());
  EXPECT_EQ(m["meta-spec"]["version"], "1.0.0");
  EXPECT_TRUE(m["maintainer"].is_string() ||
              (m["maintainer"].is_array() && !m["maintainer"].empty()));
  const std::set<std::string> licenses = {
      "agpl_3",      "apache_1_1", "apache_2_0",   "artistic_1",  "artistic_2",  "bsd",
      "freebsd",     "gfdl_1_2",   "gfdl_1_3",     "gpl_1",       "gpl_2",       "gpl_3",
      "lgpl_2_1",    "lgpl_3_0",   "mit",          "mozilla_1_0", "mozilla_1_1", "openssl",
      "perl_5",      "postgresql", "qpl_1_0",      "ssleay",      "sun",         "zlib",
      "open_source", "restricted", "unrestricted", "unknown"};
  ASSERT_TRUE(m["license"].is_string());
  EXPECT_TRUE(licenses.count(m["license"].get<std::string>())) << m["license"];
  if (m.contains("release_status")) {
    EXPECT_TRUE(std::set<std::string>({"stable", "testing", "unstable"})
                    .count(m["release_status"].get<std::string>()));
  }
}

TEST(MetaJson, VersionIsTheControlFilesDefaultVersion) {
  const auto m = meta();
  const std::string installed = control("default_version");
  ASSERT_FALSE(installed.empty()) << "no default_version in extension/pg_unit_tests.control";
  EXPECT_TRUE(is_semver(m["version"])) << m["version"];
  EXPECT_EQ(m["version"], as_semver(installed));
  EXPECT_EQ(m["provides"]["pg_unit_tests"]["version"], as_semver(installed));
}

TEST(MetaJson, ProvidesTheExtensionWithFilesThatExist) {
  const auto m = meta();
  ASSERT_TRUE(m["provides"].contains("pg_unit_tests"));
  for (const auto& [name, extension] : m["provides"].items()) {
    ASSERT_TRUE(extension.contains("file")) << name;
    EXPECT_TRUE(fs::exists(kRoot / extension["file"].get<std::string>())) << extension["file"];
    EXPECT_TRUE(is_semver(extension["version"])) << name;
    if (extension.contains("docfile")) {
      EXPECT_TRUE(fs::exists(kRoot / extension["docfile"].get<std::string>()));
    }
  }
}

TEST(MetaJson, RequiresTheOldestSupportedPostgreSQL) {
  const auto m = meta();
  EXPECT_EQ(m["prereqs"]["runtime"]["requires"]["PostgreSQL"], "15.0.0");
}
