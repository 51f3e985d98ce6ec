// What a postmaster says about itself in files: its postmaster.pid (the line layout is
// PostgreSQL's, src/include/utils/pidfile.h) and its log. Parsed here once, for the keeper's
// readiness wait, its last-resort cleanup and its error messages.
#pragma once

#include <optional>
#include <string>

namespace pg_unit_tests::cluster {

struct PidFile {
  long pid = 0;
  std::string data_directory;
  long long start_time = 0;
  int port = 0;
  std::string socket_directory;
  std::string listen_address;
  long long shmem_key = -1;  // System V shared memory key and id (line 7)
  int shmem_id = -1;
  std::string status;  // line 8: "starting", "stopping", "ready   ", "standby " (padded)

  // "ready" means it accepts connections.
  bool ready() const { return status.rfind("ready", 0) == 0; }
};

// Parses the lines that are there (postgres writes the file in steps); nullopt if not even the pid.
std::optional<PidFile> parse_pid_file(const std::string& text);

// The server's own complaint from its log: the first FATAL or PANIC line with the DETAIL and HINT
// lines that follow it, from the severity on, blanks collapsed; else the last non-empty line.
std::string log_complaint(const std::string& log);

}  // namespace pg_unit_tests::cluster
