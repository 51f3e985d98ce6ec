// Errors of the harness. Every failure the user can cause or fix is an Error with one clear line
// (what is wrong and how to fix it) and the exit code the CLI returns for it.
#pragma once

#include <stdexcept>
#include <string>

namespace pg_unit_tests {

// Exit codes of the CLI; README.md and `pg_unit_tests --help` list them.
enum class ExitCode : int {
  kOk = 0,
  kTestsFailed = 1,    // regress: a test failed
  kUsage = 2,          // unknown option, bad argument
  kInstallation = 3,   // PostgreSQL installation missing or incomplete
  kServerStart = 4,    // the server refused to start (its own complaint is quoted)
  kExtension = 5,      // an --extension directory does not build or has no control file
  kFilesystem = 6,     // cache or state directory unwritable, disk full
  kNoSuchServer = 7,   // stop: no server behind that URI or directory
  kSystem = 8,         // the unprivileged user could not be prepared, fork failed, ...
  kDatabase = 9,       // snapshot/createdb/dropdb: the server refused (sessions in the way, no
                       // such snapshot or template, a name taken); its message is quoted
  kInterrupted = 130,  // stopped by a signal before the server was ready
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

}  // namespace pg_unit_tests
