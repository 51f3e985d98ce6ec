#include "cluster/server_state.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "platform/fs.hpp"
#include "pq/conninfo.hpp"

namespace pg_unit_tests {

std::string ServerInfo::to_json() const {
  nlohmann::json j = {{"uri", uri},
                      {"host", host},
                      {"port", port},
                      {"user", user},
                      {"password", password},
                      {"database", database},
                      {"id", id},
                      {"directory", directory.string()},
                      {"data_directory", data_directory.string()},
                      {"socket_directory", socket_directory.string()},
                      {"pid", pid},
                      {"keeper_pid", keeper_pid},
                      {"version", version}};
  return j.dump();
}

std::string ServerInfo::socket_conninfo(const std::string& dbname) const {
  return fmt::format("host='{}' port={} user='{}' dbname='{}'", socket_directory.string(), port,
                     user, dbname.empty() ? database : dbname);
}

namespace cluster {

ServerInfo info_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  ServerInfo i;
  i.uri = j.value("uri", "");
  i.host = j.value("host", "");
  i.port = j.value("port", 0);
  i.user = j.value("user", "");
  i.password = j.value("password", "");
  i.database = j.value("database", "");
  i.id = j.value("id", "");
  i.directory = j.value("directory", "");
  i.data_directory = j.value("data_directory", "");
  i.socket_directory = j.value("socket_directory", "");
  i.pid = j.value("pid", 0);
  i.keeper_pid = j.value("keeper_pid", 0);
  i.version = j.value("version", "");
  return i;
}

void write_state(const ServerState& s) {
  nlohmann::json j = nlohmann::json::parse(s.info.to_json());
  j["overlay"] = s.overlay.string();
  j["idle_timeout"] = s.idle_timeout;
  j["attached"] = s.attached;
  j["spare"] = s.spare;
  platform::write_file_atomic(s.info.directory / "server.json", j.dump(2) + "\n", 0600);
}

std::optional<ServerState> read_state(const std::filesystem::path& dir) {
  auto text = platform::read_file(dir / "server.json");
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  ServerState s;
  s.info = info_from_json(*text);
  s.overlay = j.value("overlay", "");
  s.idle_timeout = j.value("idle_timeout", 0);
  s.attached = j.value("attached", false);
  s.spare = j.value("spare", false);
  return s;
}

std::string make_uri(const ServerInfo& i) {
  pq::Options o = {{"user", i.user}, {"dbname", i.database}, {"port", std::to_string(i.port)}};
  o["host"] = i.host;
  if (!i.password.empty()) o["password"] = i.password;
  return pq::make_uri(o);
}

}  // namespace cluster
}  // namespace pg_unit_tests
