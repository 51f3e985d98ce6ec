// Who the servers run as. PostgreSQL refuses to run as root, so when the harness is invoked as
// root it prepares (once) and uses the unprivileged system user `pg_unit_tests`.
#pragma once

#include <optional>
#include <string>

#include "platform/process.hpp"

namespace pg_unit_tests::platform {

struct ServerUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  // Set when the harness runs as root: child processes switch to this user.
  std::optional<Credentials> switch_to;
};

inline constexpr const char* kServiceUser = "pg_unit_tests";

// The user servers run as: this process's user, or the prepared service user under root.
// Throws Error(kSystem) if the service user cannot be created.
ServerUser server_user();

}  // namespace pg_unit_tests::platform
