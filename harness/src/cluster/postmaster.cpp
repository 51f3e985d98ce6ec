#include "cluster/postmaster.hpp"

#include <sstream>
#include <vector>

namespace pg_unit_tests::cluster {

std::optional<PidFile> parse_pid_file(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  PidFile p;
  auto line = [&](size_t n) { return n <= lines.size() ? lines[n - 1] : std::string(); };
  try {
    if (lines.empty() || (p.pid = std::stol(line(1))) <= 0) return std::nullopt;
    p.data_directory = line(2);
    if (!line(3).empty()) p.start_time = std::stoll(line(3));
    if (!line(4).empty()) p.port = std::stoi(line(4));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  p.socket_directory = line(5);
  p.listen_address = line(6);
  std::istringstream shmem(line(7));
  long long key = -1;
  int id = -1;
  if (shmem >> key >> id) {
    p.shmem_key = key;
    p.shmem_id = id;
  }
  p.status = line(8);
  return p;
}

std::string log_complaint(const std::string& log) {
  std::istringstream in(log);
  std::string line, found, last;
  bool taking = false;
  auto tail_from = [](const std::string& l, const char* marker) {
    const size_t at = l.find(marker);
    return at == std::string::npos ? std::string() : l.substr(at);
  };
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
    std::string severe = tail_from(line, "FATAL:");
    if (severe.empty()) severe = tail_from(line, "PANIC:");
    std::string extra = tail_from(line, "DETAIL:");
    if (extra.empty()) extra = tail_from(line, "HINT:");
    if (!severe.empty() && found.empty()) {
      found = severe;
      taking = true;
    } else if (taking && !extra.empty()) {
      found += " " + extra;
    } else {
      taking = false;
    }
  }
  if (found.empty()) found = last;
  // Collapse runs of blanks ("FATAL:  invalid ..." reads better with one).
  std::string out;
  for (char c : found) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace pg_unit_tests::cluster
