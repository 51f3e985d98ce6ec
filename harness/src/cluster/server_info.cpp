// ServerInfo's own functions (pg_unit_tests/server.hpp).
#include <fmt/format.h>

#include "cluster/keeper_protocol.hpp"
#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests {

std::string ServerInfo::to_json() const {
  return nlohmann::json(*this).dump();
}

std::string ServerInfo::socket_conninfo(const std::string& dbname) const {
  return fmt::format("host='{}' port={} user='{}' dbname='{}'", socket_directory.string(), port,
                     user, dbname.empty() ? database : dbname);
}

}  // namespace pg_unit_tests
