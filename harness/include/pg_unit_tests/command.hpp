// Running a command against a server, as `pg_unit_tests exec` does: in the foreground, with the
// environment that points it at the server, signals passed on, and never outliving its caller.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pg_unit_tests {

using Environment = std::vector<std::pair<std::string, std::string>>;

// Runs command[0] (looked up on PATH when it has no '/') with `environment` added to this
// process's environment (an empty value unsets), stdin, stdout and stderr shared, and waits for
// it. While it runs, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to this process
// with kill(2) are passed on to it (from a terminal they reach it directly); the previous
// handlers are restored afterwards. If this process dies, even by SIGKILL, the command gets
// SIGKILL (PR_SET_PDEATHSIG). Returns its exit status, 128+N if signal N ended it. Throws
// Error(kUsage) when the command is not found or not executable.
int run_command(const std::vector<std::string>& command, const Environment& environment);

// The path of a command as run_command would run it. Throws Error(kUsage): "not found" or "not
// executable", naming it.
std::string find_command(const std::string& name);

// The libpq environment of a connection URI: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (each
// set or unset as the URI says) and DATABASE_URL; PGHOSTADDR and PGSERVICE unset (empty), which
// would otherwise send libpq elsewhere. Throws Error(kUsage) for what is not a URI.
Environment connection_environment(const std::string& uri);

}  // namespace pg_unit_tests
