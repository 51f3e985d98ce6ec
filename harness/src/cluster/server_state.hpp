// What a running server's directory records about it (server.json), and its URI.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cluster {

struct ServerState {
  ServerInfo info;
  std::filesystem::path overlay;
  int idle_timeout = 0;
  bool attached = false;
  bool spare = false;  // a pre-started server waiting in the pool (not listed, not claimed yet)
};

void write_state(const ServerState& state);
std::optional<ServerState> read_state(const std::filesystem::path& server_directory);

std::string make_uri(const ServerInfo& info);
// Parses ServerInfo::to_json(); throws nlohmann::json::exception on malformed input.
ServerInfo info_from_json(const std::string& text);

}  // namespace pg_unit_tests::cluster
