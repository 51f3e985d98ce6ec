// Reports of a regress run: pg_regress-like console lines, TAP 13, JUnit XML (pugixml), JSON
// (nlohmann-json).
// Over 400 lines on purpose: the formats share the status words, the UTF-8 cleaning and the atomic
// writes, which one file per format would have to export.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/regress.hpp"
#include "regress/report.hpp"

namespace pg_unit_tests::regress {

using detail::status_word;

namespace {

// Valid UTF-8 that XML 1.0 accepts: invalid sequences, control characters other than tab, newline
// and carriage return, and the noncharacters U+FFFE and U+FFFF become U+FFFD. Test output is
// arbitrary bytes (a suite may print LATIN1 or binary).
std::string clean_utf8(const std::string& in) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') {
        out.push_back(static_cast<char>(c));
      } else {
        out += kReplacement;
      }
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (c >= 0xF5) len = 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      // Overlong forms, UTF-16 surrogates, and U+FFFE/U+FFFF (not XML characters) are out.
      ok = !(c == 0xE0 && s[i + 1] < 0xA0) && !(c == 0xED && s[i + 1] >= 0xA0) &&
           !(c == 0xEF && s[i + 1] == 0xBF && s[i + 2] >= 0xBE);
    }
    if (ok && len == 4) ok = !(c == 0xF0 && s[i + 1] < 0x90) && !(c == 0xF4 && s[i + 1] >= 0x90);
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string quoted(const std::string& s) {
  return nlohmann::json(clean_utf8(s)).dump();
}

std::string psql_note(const TestResult& t) {
  if (t.psql_status == 0) return {};
  if (t.psql_status > 128) {
    return fmt::format(" (test process was terminated by signal {})", t.psql_status - 128);
  }
  return fmt::format(" (test process exited with exit code {})", t.psql_status);
}

// pg_regress's verdict on a run: "All 3 tests passed." ...
std::string verdict(const Summary& s) {
  const int total = static_cast<int>(s.tests.size());
  std::string line;
  if (s.failed == 0 && s.ignored == 0) {
    line = fmt::format("All {} tests passed.", total);
  } else if (s.failed == 0) {
    line = fmt::format("{} of {} tests passed, {} failed test(s) ignored.", s.passed + s.accepted,
                       total, s.ignored);
  } else if (s.ignored == 0) {
    line = fmt::format("{} of {} tests failed.", s.failed, total);
  } else {
    line = fmt::format("{} of {} tests failed, {} of these failures ignored.", s.failed + s.ignored,
                       total, s.ignored);
  }
  if (s.accepted > 0) line += fmt::format(" {} accepted.", s.accepted);
  return line;
}

// pg_regress's closing block: the verdict between two bars, then where the diffs are.
void print_block(const Summary& s, const std::string& heading, std::FILE* out) {
  const std::string line = " " + heading + verdict(s) + " ";
  const std::string bar(line.size(), '=');
  std::fprintf(out, "\n%s\n%s\n%s\n\n", bar.c_str(), line.c_str(), bar.c_str());
  if (s.accepted > 0) {
    std::fprintf(out,
                 "New expected output was written for %d test(s); review it with git diff.\n\n",
                 s.accepted);
  }
  if (fs::exists(s.diffs_file)) {
    std::fprintf(out,
                 "The differences that caused some tests to fail can be viewed in the\n"
                 "file \"%s\".  A copy of the test summary that you see\n"
                 "above is saved in the file \"%s\".\n\n",
                 s.diffs_file.c_str(), s.summary_file.c_str());
  }
  std::fflush(out);
}

class Console : public Observer {
 public:
  explicit Console(std::FILE* out) : out_(out) {}
  void installation_started(const std::string& label, const std::string& pg_config) override {
    std::fprintf(out_, "============== PostgreSQL %s (%s) ==============\n", label.c_str(),
                 pg_config.c_str());
    prefix_ = "[" + label + "] ";
    running_header_ = false;
    std::fflush(out_);
  }
  void installation_finished(const Summary& s) override {
    if (!s.error.empty()) {
      std::fprintf(out_, "%scould not run: %s\n", prefix_.c_str(), s.error.c_str());
    } else {
      print_block(s, "PostgreSQL " + s.label + ": ", out_);
    }
    std::fflush(out_);
  }
  void begin(int total, const std::string& server) override {
    std::fprintf(out_, "# %d test%s on %s\n", total, total == 1 ? "" : "s", server.c_str());
    std::fflush(out_);
  }
  void setup(const std::string& what) override {
    std::fprintf(out_, "============== %-38s ==============\n", what.c_str());
    std::fflush(out_);
  }
  void note(const std::string& text) override {
    std::fprintf(out_, "note: %s\n", text.c_str());
    std::fflush(out_);
  }
  void group_started(const Group& g, bool parallel) override {
    if (!running_header_) {
      std::fprintf(out_, "============== %-38s ==============\n",
                   "running regression test queries");
      running_header_ = true;
    }
    parallel_ = parallel;
    if (parallel) {
      std::fprintf(out_, "%sparallel group (%zu tests): ", prefix_.c_str(), g.tests.size());
      std::fflush(out_);
    }
  }
  void test_started(const std::string& name) override {
    if (!parallel_) {
      std::fprintf(out_, "%stest %-28s ... ", prefix_.c_str(), name.c_str());
      std::fflush(out_);
    }
  }
  void test_finished(const TestResult& t) override {
    if (parallel_) {
      std::fprintf(out_, " %s", t.name.c_str());
    } else {
      print_status(t);
    }
    std::fflush(out_);
  }
  void group_finished(const Group&, const std::vector<TestResult>& results) override {
    if (!parallel_) return;
    std::fprintf(out_, "\n");
    for (const auto& t : results) {
      std::fprintf(out_, "%s     %-28s ... ", prefix_.c_str(), t.name.c_str());
      print_status(t);
    }
    std::fflush(out_);
  }

 private:
  void print_status(const TestResult& t) {
    std::fprintf(out_, "%-6s%s %8.0f ms\n", status_word(t).c_str(), psql_note(t).c_str(),
                 t.milliseconds);
    if (!t.message.empty()) std::fprintf(out_, "    %s\n", t.message.c_str());
    if (t.status == Status::kFailed && !t.diff.empty()) {
      std::fwrite(t.diff.data(), 1, t.diff.size(), out_);
      if (t.diff_truncated) std::fprintf(out_, "    ... (the full diff is in regression.diffs)\n");
    }
  }
  std::FILE* out_;
  std::string prefix_;  // "[15.20] " in a version matrix: the installation of each test line
  bool running_header_ = false;
  bool parallel_ = false;
};

class Tap : public Observer {
 public:
  explicit Tap(std::FILE* out) : out_(out) {}
  void begin(int total, const std::string& server) override {
    version_line();
    std::fprintf(out_, "# %d test%s on %s\n", total, total == 1 ? "" : "s", server.c_str());
    std::fflush(out_);
  }
  void installation_started(const std::string& label, const std::string& pg_config) override {
    version_line();
    std::fprintf(out_, "# PostgreSQL %s (%s)\n", label.c_str(), pg_config.c_str());
    prefix_ = "[" + label + "] ";
    std::fflush(out_);
  }
  // An installation that could not run is a failed test point, so that prove fails too.
  void installation_finished(const Summary& s) override {
    if (!s.error.empty()) {
      std::fprintf(out_,
                   "not ok %d - %scould not run\n  ---\n  version: %s\n  message: %s\n  ...\n",
                   ++n_, prefix_.c_str(), quoted(s.label).c_str(), quoted(s.error).c_str());
    } else {
      std::fprintf(out_, "# PostgreSQL %s: %s\n", s.label.c_str(), verdict(s).c_str());
    }
    std::fflush(out_);
  }
  void setup(const std::string& what) override { std::fprintf(out_, "# %s\n", what.c_str()); }
  void note(const std::string& text) override { std::fprintf(out_, "# note: %s\n", text.c_str()); }
  void group_finished(const Group&, const std::vector<TestResult>& results) override {
    for (const auto& t : results) {
      ++n_;
      const bool ok = t.status == Status::kOk || t.status == Status::kAccepted;
      std::string directive;
      if (t.status == Status::kIgnored) directive = " # TODO failure ignored by the schedule";
      std::fprintf(out_, "%s %d - %s%s%s\n", ok ? "ok" : "not ok", n_, prefix_.c_str(),
                   t.name.c_str(), directive.c_str());
      if (t.status == Status::kOk) continue;
      // TAP 13 YAML block.
      std::fprintf(out_, "  ---\n  duration_ms: %.0f\n", t.milliseconds);
      if (!prefix_.empty())
        std::fprintf(out_, "  version: %s\n", quoted(label_of(prefix_)).c_str());
      std::fprintf(out_, "  status: %s\n", to_string(t.status));
      if (!t.message.empty()) {
        std::fprintf(out_, "  message: %s\n", quoted(t.message).c_str());
      }
      std::fprintf(out_, "  expected: %s\n", quoted(t.expected.string()).c_str());
      std::fprintf(out_, "  result: %s\n", quoted(t.result.string()).c_str());
      if (t.psql_status != 0) std::fprintf(out_, "  psql_exit_status: %d\n", t.psql_status);
      if (!t.diff.empty()) {
        std::fprintf(out_, "  diff: |\n");
        size_t pos = 0;
        const std::string d = clean_utf8(t.diff);
        while (pos < d.size()) {
          size_t nl = d.find('\n', pos);
          if (nl == std::string::npos) nl = d.size();
          std::fprintf(out_, "    %.*s\n", static_cast<int>(nl - pos), d.data() + pos);
          pos = nl + 1;
        }
      }
      std::fprintf(out_, "  ...\n");
    }
    std::fflush(out_);
  }

 private:
  void version_line() {
    if (!started_) std::fprintf(out_, "TAP version 13\n");
    started_ = true;
  }
  static std::string label_of(const std::string& prefix) {
    return prefix.substr(1, prefix.size() - 3);
  }
  std::FILE* out_;
  std::string prefix_;  // "[15.20] " in a version matrix: test points name their installation
  bool started_ = false;
  int n_ = 0;
};

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

void write_atomically(const fs::path& file, const std::string& content) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) {
      throw Error(ExitCode::kFilesystem, fmt::format("could not write {}", file.string()));
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(ExitCode::kFilesystem, fmt::format("could not write {}", file.string()));
  }
}

// One testcase element per test of `s`: failures with their diff, ignored failures as skipped.
void add_testcases(pugi::xml_node suite, const Summary& s, const std::string& classname) {
  for (const auto& t : s.tests) {
    auto tc = suite.append_child("testcase");
    tc.append_attribute("classname") = classname.c_str();
    tc.append_attribute("name") = clean_utf8(t.name).c_str();
    tc.append_attribute("time") = fmt::format("{:.3f}", t.milliseconds / 1000.0).c_str();
    tc.append_attribute("file") = clean_utf8(t.input.string()).c_str();
    std::string details = t.message.empty() ? "" : t.message + "\n";
    details += t.diff;
    if (t.diff_truncated) details += "... (the full diff is in regression.diffs)\n";
    if (t.status == Status::kFailed) {
      auto f = tc.append_child("failure");
      f.append_attribute("type") = t.message.empty() ? "difference" : "error";
      f.append_attribute("message") =
          clean_utf8(t.message.empty() ? "output differs from " + t.expected.string() : t.message)
              .c_str();
      f.text() = clean_utf8(details).c_str();
    } else if (t.status == Status::kIgnored) {
      auto sk = tc.append_child("skipped");
      sk.append_attribute("message") = "failed, ignored by the schedule";
      tc.append_child("system-out").text() = clean_utf8(details).c_str();
    } else if (t.status == Status::kAccepted) {
      tc.append_child("system-out").text() =
          clean_utf8("accepted: " + t.expected.string() + "\n" + details).c_str();
    }
  }
}

}  // namespace

const char* to_string(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kFailed:
      return "failed";
    case Status::kIgnored:
      return "ignored";
    case Status::kAccepted:
      return "accepted";
  }
  return "?";
}

std::unique_ptr<Observer> console_observer(std::FILE* out) {
  return std::make_unique<Console>(out);
}

std::unique_ptr<Observer> tap_observer(std::FILE* out) {
  return std::make_unique<Tap>(out);
}

void print_console_summary(const Summary& s, std::FILE* out) {
  print_block(s, "", out);
}

void print_console_summary(const std::vector<Summary>& runs, std::FILE* out) {
  std::vector<std::string> lines;
  size_t width = 0;
  for (const auto& s : runs) {
    lines.push_back(fmt::format(" PostgreSQL {}: {} ", s.label,
                                s.error.empty() ? verdict(s) : "could not run: " + s.error));
    width = std::max(width, lines.back().size());
  }
  const std::string bar(std::min<size_t>(width, 100), '=');
  std::fprintf(out, "\n%s\n", bar.c_str());
  for (const auto& l : lines) std::fprintf(out, "%s\n", l.c_str());
  std::fprintf(out, "%s\n\n", bar.c_str());
  if (!runs.empty() && !runs.front().diffs_file.empty()) {
    const fs::path all =
        runs.front().diffs_file.parent_path().parent_path().parent_path() / "regression.diffs";
    if (fs::exists(all)) {
      std::fprintf(out,
                   "The differences that caused some tests to fail can be viewed in the\n"
                   "file \"%s\" (those of each version in results/VERSION/).\n\n",
                   all.c_str());
    }
  }
  std::fflush(out);
}

void print_tap_summary(const std::vector<Summary>& runs, std::FILE* out) {
  size_t points = 0;
  int passed = 0, failed = 0, ignored = 0, accepted = 0, errors = 0;
  double seconds = 0;
  for (const auto& s : runs) {
    points += s.tests.size() + (s.error.empty() ? 0 : 1);
    passed += s.passed;
    failed += s.failed;
    ignored += s.ignored;
    accepted += s.accepted;
    errors += s.error.empty() ? 0 : 1;
    seconds += s.seconds;
  }
  std::fprintf(out, "1..%zu\n", points);
  std::fprintf(out,
               "# %d passed, %d failed, %d ignored, %d accepted in %.2f s on %zu installations%s\n",
               passed, failed, ignored, accepted, seconds, runs.size(),
               errors > 0 ? fmt::format(" ({} could not run)", errors).c_str() : "");
  std::fflush(out);
}

void print_tap_summary(const Summary& s, std::FILE* out) {
  std::fprintf(out, "1..%zu\n", s.tests.size());
  std::fprintf(out, "# %d passed, %d failed, %d ignored, %d accepted in %.2f s\n", s.passed,
               s.failed, s.ignored, s.accepted, s.seconds);
  if (fs::exists(s.diffs_file)) std::fprintf(out, "# diffs: %s\n", s.diffs_file.c_str());
  std::fflush(out);
}

void write_junit(const Summary& s, const fs::path& file) {
  write_junit(std::vector<Summary>{s}, file);
}

void write_junit(const std::vector<Summary>& runs, const fs::path& file) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto suites = doc.append_child("testsuites");
  suites.append_attribute("name") = "pg_unit_tests regress";
  int tests = 0, failed = 0, ignored = 0;
  double seconds = 0;
  int errors = 0;
  for (const auto& s : runs) {
    tests += static_cast<int>(s.tests.size()) + (s.error.empty() ? 0 : 1);
    failed += s.failed;
    ignored += s.ignored;
    errors += s.error.empty() ? 0 : 1;
    seconds += s.seconds;
  }
  suites.append_attribute("tests") = tests;
  suites.append_attribute("failures") = failed;
  suites.append_attribute("errors") = errors;
  suites.append_attribute("skipped") = ignored;
  suites.append_attribute("time") = fmt::format("{:.3f}", seconds).c_str();
  for (const auto& s : runs) {
    auto suite = suites.append_child("testsuite");
    // In a version matrix each installation is a suite of its own ("regress (PostgreSQL 18.3)"),
    // and its tests' class is "regress.pg18_3": CI tools group by class, and a dot in it would
    // split it into package and class.
    std::string classname = s.suite;
    std::string name = s.suite;
    if (!s.label.empty()) {
      std::string label = s.label;
      for (char& c : label) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      classname += ".pg" + label;
      name += " (PostgreSQL " + s.label + ")";
    }
    suite.append_attribute("name") = clean_utf8(name).c_str();
    suite.append_attribute("tests") = static_cast<int>(s.tests.size()) + (s.error.empty() ? 0 : 1);
    suite.append_attribute("failures") = s.failed;
    suite.append_attribute("errors") = s.error.empty() ? 0 : 1;
    suite.append_attribute("skipped") = s.ignored;
    suite.append_attribute("time") = fmt::format("{:.3f}", s.seconds).c_str();
    if (!s.tests.empty())
      suite.append_attribute("timestamp") = iso_time(s.tests.front().started).c_str();
    auto props = suite.append_child("properties");
    auto prop = props.append_child("property");
    prop.append_attribute("name") = "server";
    prop.append_attribute("value") = clean_utf8(s.server).c_str();
    if (!s.version.empty()) {
      auto v = props.append_child("property");
      v.append_attribute("name") = "version";
      v.append_attribute("value") = clean_utf8(s.version).c_str();
    }
    if (!s.pg_config.empty()) {
      auto v = props.append_child("property");
      v.append_attribute("name") = "pg_config";
      v.append_attribute("value") = clean_utf8(s.pg_config).c_str();
    }
    if (!s.error.empty()) {
      // The installation could not run the suite: one errored test case says why.
      auto tc = suite.append_child("testcase");
      tc.append_attribute("classname") = clean_utf8(classname).c_str();
      tc.append_attribute("name") = "(could not run)";
      tc.append_attribute("time") = "0.000";
      tc.append_child("error").append_attribute("message") = clean_utf8(s.error).c_str();
    }
    add_testcases(suite, s, clean_utf8(classname));
  }
  // The declaration is the document's first node; pugixml writes it (once).
  std::ostringstream xml;
  doc.save(xml, "  ", pugi::format_default | pugi::format_no_declaration, pugi::encoding_utf8);
  write_atomically(file, xml.str());
}

namespace {

nlohmann::json json_of(const Summary& s) {
  nlohmann::json j;
  j["suite"] = s.suite;
  j["version"] = s.version;
  if (!s.label.empty()) {
    j["label"] = s.label;
    j["pg_config"] = s.pg_config;
    j["error"] = s.error;
  }
  j["server"] = s.server;
  j["seconds"] = s.seconds;
  j["passed"] = s.passed;
  j["failed"] = s.failed;
  j["ignored"] = s.ignored;
  j["accepted"] = s.accepted;
  j["exit_code"] = s.exit_code();
  j["diffs_file"] = fs::exists(s.diffs_file) ? s.diffs_file.string() : "";
  j["tests"] = nlohmann::json::array();
  for (const auto& t : s.tests) {
    j["tests"].push_back({{"name", t.name},
                          {"status", to_string(t.status)},
                          {"milliseconds", t.milliseconds},
                          {"group", t.group},
                          {"parallel", t.parallel},
                          {"psql_status", t.psql_status},
                          {"database", t.database},
                          {"input", t.input.string()},
                          {"result", t.result.string()},
                          {"expected", t.expected.string()},
                          {"message", t.message},
                          {"diff", t.diff},
                          {"diff_truncated", t.diff_truncated}});
  }
  return j;
}

void write_json_file(const nlohmann::json& j, const fs::path& file) {
  write_atomically(file, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace

void write_json(const Summary& s, const fs::path& file) {
  write_json_file(json_of(s), file);
}

void write_json(const std::vector<Summary>& runs, const fs::path& file) {
  nlohmann::json j;
  int passed = 0, failed = 0, ignored = 0, accepted = 0;
  double seconds = 0;
  j["runs"] = nlohmann::json::array();
  for (const auto& s : runs) {
    passed += s.passed;
    failed += s.failed;
    ignored += s.ignored;
    accepted += s.accepted;
    seconds += s.seconds;
    j["runs"].push_back(json_of(s));
  }
  j["exit_code"] = exit_code(runs);
  j["passed"] = passed;
  j["failed"] = failed;
  j["ignored"] = ignored;
  j["accepted"] = accepted;
  j["seconds"] = seconds;
  write_json_file(j, file);
}

namespace detail {

std::string status_word(const TestResult& t) {
  switch (t.status) {
    case Status::kOk:
      return "ok";
    case Status::kFailed:
      return "FAILED";
    case Status::kIgnored:
      return "failed (ignored)";
    case Status::kAccepted:
      return "accepted";
  }
  return "?";
}

void count_statuses(Summary& s) {
  s.passed = s.failed = s.ignored = s.accepted = 0;
  for (const auto& t : s.tests) {
    switch (t.status) {
      case Status::kOk:
        ++s.passed;
        break;
      case Status::kFailed:
        ++s.failed;
        break;
      case Status::kIgnored:
        ++s.ignored;
        break;
      case Status::kAccepted:
        ++s.accepted;
        break;
    }
  }
}

std::string summary_lines(const Summary& s, const std::string& prefix) {
  std::string lines;
  for (const auto& t : s.tests) {
    lines += fmt::format("{}{} {:<28} ... {:<16} {:8.0f} ms{}\n", prefix,
                         t.parallel ? "    " : "test", t.name, status_word(t), t.milliseconds,
                         t.message.empty() ? "" : "  " + t.message);
  }
  return lines;
}

void write_summary_file(const Summary& s, const fs::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << summary_lines(s, "");
}

}  // namespace detail

}  // namespace pg_unit_tests::regress
