// Server settings as typed values: what the user asked for (ServerOptions::settings, `-o`), checked
// and composed with what the harness itself needs (its extension preloaded, time control, a
// frozen clock) into the `-c name=value` arguments of postgres.
#pragma once

#include <string>
#include <vector>

namespace pg_unit_tests::cluster {

struct Setting {
  std::string name;  // lower case: PostgreSQL's setting names are case-insensitive
  std::string value;
  std::string argument() const { return name + "=" + value; }
  bool operator==(const Setting&) const = default;
};

// Parses "name=value". Throws Error(kUsage) naming the text when it is not a setting.
Setting parse_setting(const std::string& text);

// The libraries of a shared_preload_libraries value (comma separated, names optionally in double
// quotes, the whole optionally in single quotes as in postgresql.conf), each once.
std::vector<std::string> split_library_list(const std::string& value);

struct SettingsRequest {
  std::vector<std::string> user;  // "name=value", in the order given
  bool preload_own = false;       // this project's extension is served and preloaded
  std::string freeze;             // pg_unit_tests.frozen_at, needs preload_own
};

// The settings of a server, in the order postgres gets them: shared_preload_libraries (ours first,
// then the user's, each once), time control, the frozen clock, then the user's other settings in
// their order (a later one wins, as on postgres's command line). Throws Error(kUsage) for a
// malformed setting or one that is the harness's to choose (listen_addresses, port, the socket's
// directory and permissions, hba_file, ident_file, data_directory, config_file: they would break
// the promise of a private socket and loopback-only TCP, or the URI), Error(kExtension) for a
// freeze without the extension.
std::vector<Setting> compose_settings(const SettingsRequest& request);

}  // namespace pg_unit_tests::cluster
