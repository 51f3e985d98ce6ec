// Unit tests (no server): the exit-code table is written once (pg_unit_tests/error.hpp); --help
// prints it and README.md's table must say the same.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "cli/app.hpp"
#include "pg_unit_tests/error.hpp"

using pg_unit_tests::kExitCodeMeanings;

namespace {
std::string without(std::string s, char c) {
  s.erase(std::remove(s.begin(), s.end(), c), s.end());
  return s;
}
std::string squeezed(const std::string& s) {
  return std::regex_replace(s, std::regex("\\s+"), " ");
}
}  // namespace

TEST(ExitCodes, ReadmeTableIsTheLibrarysTable) {
  std::ifstream in(PGUT_README);
  ASSERT_TRUE(in) << PGUT_README;
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const size_t section = readme.find("### Exit codes");
  ASSERT_NE(section, std::string::npos);
  std::istringstream lines(readme.substr(section));
  std::string line;
  std::vector<std::pair<int, std::string>> rows;
  static const std::regex row("^\\| ([0-9]+) \\| (.*) \\|$");
  bool in_table = false;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      rows.emplace_back(std::stoi(m[1]), without(m[2], '`'));
      in_table = true;
    } else if (in_table && line.rfind("|", 0) != 0) {
      break;
    }
  }
  ASSERT_EQ(rows.size(), std::size(kExitCodeMeanings));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].first, static_cast<int>(kExitCodeMeanings[i].code));
    EXPECT_EQ(rows[i].second, kExitCodeMeanings[i].meaning) << "exit code " << rows[i].first;
  }
}

TEST(ExitCodes, HelpPrintsEveryOne) {
  pg_unit_tests::cli::App app;
  const char* argv[] = {"pg_unit_tests", "--help"};
  std::FILE* out = std::tmpfile();
  ASSERT_EQ(app.parse(2, argv, out, stderr), 0);
  std::rewind(out);
  std::string help;
  for (int c; (c = std::fgetc(out)) != EOF;) help.push_back(static_cast<char>(c));
  std::fclose(out);
  for (const auto& [code, meaning] : kExitCodeMeanings) {
    EXPECT_NE(squeezed(help).find(std::to_string(static_cast<int>(code)) + " " + meaning),
              std::string::npos)
        << meaning;
  }
}
