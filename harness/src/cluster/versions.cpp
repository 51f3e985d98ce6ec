#include "cluster/versions.hpp"

namespace pg_unit_tests::cluster {

std::vector<std::string> initdb_options(int major) {
  std::vector<std::string> options;
  // 16 MB less to copy per server (the option exists since 11).
  if (major >= 11) options.push_back("--wal-segsize=1");
  // 18 turns page checksums on by default; a throw-away server needs no corruption detection
  // and skips computing them on every page written and read, as on earlier versions.
  if (major >= 18) options.push_back("--no-data-checksums");
  return options;
}

std::string template_settings(int major) {
  std::string settings;
  if (major >= 18) {
    // 18's default io_method = worker starts io_workers (3) processes per server; a test server
    // does little I/O, so synchronous I/O as before 18 keeps it at the process count (and start
    // time) of earlier versions.
    settings += "io_method = sync\n";
  }
  return settings;
}

}  // namespace pg_unit_tests::cluster
