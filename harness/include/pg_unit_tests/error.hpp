// Errors of the harness. Every failure the user can cause or fix is an Error with one clear line
// (what is wrong and how to fix it) and the exit code the CLI returns for it.
#pragma once

#include <stdexcept>
#include <string>

namespace pg_unit_tests {

// Exit codes of the CLI; kExitCodeMeanings below says what each means.
enum class ExitCode : int {
  kOk = 0,
  kTestsFailed = 1,    // regress: a test failed
  kUsage = 2,          // unknown option, bad argument
  kInstallation = 3,   // PostgreSQL installation missing or incomplete
  kServerStart = 4,    // the server refused to start (its own complaint is quoted)
  kExtension = 5,      // an extension does not build, a --create or --init migration failed
  kFilesystem = 6,     // cache or state directory unwritable, disk full
  kNoSuchServer = 7,   // stop: no server behind that URI or directory
  kSystem = 8,         // the unprivileged user could not be prepared, fork failed, ...
  kDatabase = 9,       // snapshot/createdb/dropdb: the server refused (sessions in the way, no
                       // such snapshot or template, a name taken); its message is quoted
  kInterrupted = 130,  // stopped by a signal before the server was ready
};

// What each exit code means, written once: `pg_unit_tests --help` prints this table and a unit
// test checks that README.md's ("Exit codes") says the same.
struct ExitCodeMeaning {
  ExitCode code;
  const char* meaning;
};
inline constexpr ExitCodeMeaning kExitCodeMeanings[] = {
    {ExitCode::kOk, "success (exec: the command's own status; 128+N if signal N ended it)"},
    {ExitCode::kTestsFailed, "regress: a test failed"},
    {ExitCode::kUsage,
     "usage error: unknown option, bad argument, -o that is not a setting or is the harness's to "
     "choose, exec command not found"},
    {ExitCode::kInstallation,
     "PostgreSQL installation missing or incomplete (no pg_config, no postgres/initdb binary)"},
    {ExitCode::kServerStart,
     "the server did not start; its own complaint is quoted (FATAL: invalid value for parameter "
     "\"work_mem\": \"lots\"), or initdb failed (a bad --locale)"},
    {ExitCode::kExtension,
     "an --extension directory does not build (make's last lines are quoted) or has no control "
     "file; the pg_unit_tests extension cannot be built for the installation (a version it does "
     "not support, no PGXS; --stock starts a server without it); a --create failed; an --init "
     "migration failed (psql's or the command's error is quoted; nothing is cached)"},
    {ExitCode::kFilesystem,
     "the cache or state directory is not writable, the socket path would be too long, or the "
     "disk is full"},
    {ExitCode::kNoSuchServer, "stop, clock: no server at that URI or directory"},
    {ExitCode::kSystem,
     "system error: the unprivileged server user could not be created, fork failed"},
    {ExitCode::kDatabase,
     "snapshot, createdb, dropdb, clock: the server refused (other sessions connected to the "
     "database, named; no such snapshot or template; a name taken; no extension or privilege for "
     "the clock); its message is quoted"},
    {ExitCode::kInterrupted, "interrupted by a signal before the server was ready"},
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

}  // namespace pg_unit_tests
