// Getting a server: prepare what it needs (installation, extensions and their overlay, template,
// settings) into a keeper specification, then claim a pre-started spare of that configuration or
// launch a keeper, and finish what the keeper leaves to us (TCP password, --create).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/keeper_client.hpp"
#include "cluster/keeper_protocol.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cluster {

struct Launch {
  KeeperSpec spec;
  std::vector<std::string> create;  // CREATE EXTENSION after the start
  std::optional<platform::Credentials> as;
  std::filesystem::path keeper;  // the keeper program as the server user runs it (keeper_program)
  uid_t server_uid = 0;
  std::shared_ptr<const platform::Dir> cache_dir;  // where pool tokens are
  // Held (shared) until the server is started: `cache clear` waits for it (template_cache.hpp).
  std::shared_ptr<platform::FileLock> cache_lock;
  std::shared_ptr<platform::FileLock> keeper_lock;  // on keeper's copy (keeper_program)
  // A migrated template's lock, held (shared) likewise: its garbage collection waits for it.
  std::shared_ptr<platform::FileLock> template_lock;
};

// Prepares everything a server of these options needs; `owned`: by the caller's connection.
Launch prepare_launch(const ServerOptions& options, bool owned);

struct Started {
  ServerInfo info;
  std::optional<KeeperConnection> control;  // the owner's connection, when owned
  pid_t keeper_child = -1;                  // the keeper, when it is our child
};

Started start_server(const Launch& launch);

// What the keeper leaves to us (it links no libpq): the TCP password and --create, over the
// server's socket. Throws Error(kExtension) naming a CREATE EXTENSION that failed.
void configure_server(const ServerInfo& info, const Launch& launch);

}  // namespace pg_unit_tests::cluster
