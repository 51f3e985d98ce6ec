// The run directory, run/<id>/ per server, and every question about running servers: each is
// answered by the server's keeper over keeper.sock, never read from a file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cluster/keeper_protocol.hpp"
#include "cluster/layout.hpp"

namespace pg_unit_tests::cluster {

// The status of every keeper that answers (pooled spares included), the uri filled in.
std::vector<KeeperStatus> running_servers(const Layout& layout);

// The server directory behind what `stop` was given: a URI as start printed it (or keyword/value
// string), a socket directory, a server directory or its data directory. Only a directory right
// below this user's run/ counts. Throws Error(kNoSuchServer).
std::filesystem::path locate_server(const std::string& target, const Layout& layout);

// Asks the keeper of run/<id> to stop and waits until everything is gone; a server still
// starting (its keeper has not opened its socket yet) is waited for a few seconds. Without a
// keeper there (proven killed), removes what it left. False if there was no such directory;
// Error(kNoSuchServer) for one still starting after the wait.
bool stop_server(const std::filesystem::path& directory, const Layout& layout);

// Stops every server of the layout (spares included, their pool tokens taken first, servers
// still starting waited for as stop_server does); returns how many keepers answered.
int stop_all(const Layout& layout);

// Removes what keepers that were killed left: a directory whose keeper.sock refuses connections,
// or that has had no socket for a minute (a keeper binds it right after creating the directory).
void collect_garbage(const Layout& layout);

// The URI of a server, from what its keeper says.
void fill_uri(ServerInfo& info);

}  // namespace pg_unit_tests::cluster
