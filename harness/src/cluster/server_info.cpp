// ServerInfo's own functions (pg_unit_tests/server.hpp).
#include <string>

#include "cluster/keeper_protocol.hpp"
#include "pg_unit_tests/server.hpp"
#include "pq/conninfo.hpp"

namespace pg_unit_tests {

std::string ServerInfo::to_json() const {
  return nlohmann::json(*this).dump();
}

std::string ServerInfo::socket_conninfo(const std::string& dbname) const {
  return pq::keyword_conninfo({{"host", socket_directory.string()},
                               {"port", std::to_string(port)},
                               {"user", user},
                               {"dbname", dbname.empty() ? database : dbname}});
}

}  // namespace pg_unit_tests
