#include "cluster/server_state.hpp"

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "platform/fs.hpp"

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

std::string percent_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string make_uri(const ServerInfo& i) {
  if (!i.password.empty()) {
    return fmt::format("postgresql://{}:{}@{}:{}/{}", percent_encode(i.user),
                       percent_encode(i.password), i.host, i.port, percent_encode(i.database));
  }
  return fmt::format("postgresql://{}@/{}?host={}&port={}", percent_encode(i.user),
                     percent_encode(i.database), percent_encode(i.host), i.port);
}

}  // namespace cluster
}  // namespace pg_unit_tests
