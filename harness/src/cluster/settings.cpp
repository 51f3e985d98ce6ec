#include "cluster/settings.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::cluster {

namespace {

constexpr const char* kOwnLibrary = "pg_unit_tests";

bool valid_name(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.'; });
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Settings that would break the harness's promises (a private socket, TCP only on 127.0.0.1 with
// a password) or the URI it hands out; each with what to do instead.
struct Reserved {
  const char* name;
  const char* instead;
};
constexpr Reserved kReserved[] = {
    {"listen_addresses", "use --tcp, which listens on 127.0.0.1 only, with a password"},
    {"port", "the harness picks the port; the URI it prints has it"},
    {"unix_socket_directories", "the server's socket lives in its private directory"},
    {"unix_socket_permissions", "only the server's owner may use its socket"},
    {"unix_socket_group", "only the server's owner may use its socket"},
    {"hba_file",
     "the harness decides who may connect (trust on the private socket, a password "
     "over TCP)"},
    {"ident_file", "the harness decides who may connect"},
    {"data_directory", "each server has its own, made by the harness"},
    {"config_file", "use -o '-c name=value' for each setting"},
};

void refuse_reserved(const Setting& s) {
  // An empty listen_addresses (no TCP) asks for nothing the harness does not do anyway.
  if (s.name == "listen_addresses" && s.value.empty()) return;
  for (const auto& r : kReserved) {
    if (s.name == r.name) {
      throw Error(
          ExitCode::kUsage,
          fmt::format("the server setting {} is the harness's to choose: {}", s.name, r.instead));
    }
  }
}

}  // namespace

Setting parse_setting(const std::string& text) {
  const size_t eq = text.find('=');
  Setting s;
  if (eq != std::string::npos) {
    s.name = text.substr(0, eq);
    s.value = text.substr(eq + 1);
  }
  if (eq == std::string::npos || !valid_name(s.name)) {
    throw Error(ExitCode::kUsage,
                fmt::format("bad server setting '{}': write it as name=value (as in -o '-c "
                            "work_mem=64MB')",
                            text));
  }
  std::transform(s.name.begin(), s.name.end(), s.name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> split_library_list(const std::string& quoted) {
  // A value quoted as in postgresql.conf ('a, b') means the same list.
  const std::string value = quoted.size() >= 2 && quoted.front() == '\'' && quoted.back() == '\''
                                ? quoted.substr(1, quoted.size() - 2)
                                : quoted;
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string name = trim(value.substr(start, comma - start));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
    start = comma + 1;
  }
  return out;
}

std::vector<Setting> compose_settings(const SettingsRequest& request) {
  std::vector<Setting> user;
  std::vector<std::string> preload;
  if (request.preload_own) preload.emplace_back(kOwnLibrary);
  for (const auto& text : request.user) {
    Setting s = parse_setting(text);
    refuse_reserved(s);
    if (s.name == "listen_addresses") continue;  // empty: what the harness does without --tcp
    if (s.name == "shared_preload_libraries") {
      for (auto& lib : split_library_list(s.value)) {
        if (std::find(preload.begin(), preload.end(), lib) == preload.end()) {
          preload.push_back(std::move(lib));
        }
      }
    } else {
      user.push_back(std::move(s));
    }
  }
  std::vector<Setting> out;
  if (!preload.empty()) {
    std::string list;
    for (const auto& lib : preload) list += (list.empty() ? "" : ",") + lib;
    out.push_back({"shared_preload_libraries", list});
  }
  if (request.preload_own) out.push_back({"pg_unit_tests.time_control", "on"});
  if (!request.freeze.empty()) {
    if (!request.preload_own) {
      throw Error(ExitCode::kExtension,
                  "--freeze needs the pg_unit_tests extension, which was not found: build it "
                  "(make) or install it (make install)");
    }
    out.push_back({"pg_unit_tests.frozen_at", request.freeze});
  }
  for (auto& s : user) out.push_back(std::move(s));
  return out;
}

}  // namespace pg_unit_tests::cluster
