// pg_unit_tests-keeper: the per-server keeper (see cluster/keeper_protocol.hpp).
//
//   pg_unit_tests-keeper serve DIR                    the keeper of the server in DIR; its
//                                                     specification arrives on fd 3
//   pg_unit_tests-keeper refill CACHE KEY TEMPLATE    tops up the spare copies of a template
//
// The harness starts it (platform::spawn, as the server user); it is not meant to be run by hand.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cluster/keeper_protocol.hpp"
#include "cluster/template_cache.hpp"
#include "keeper/keeper.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "platform/socket.hpp"
#include "platform/trace.hpp"

namespace {

using namespace pg_unit_tests;

int serve() {
  platform::trace("keeper: main");
  umask(077);
  if (chdir("/") != 0) {
    // Not fatal: every path the keeper uses is absolute.
  }
  platform::Fd launch(cluster::kLaunchFd);
  platform::LineReader reader(launch.get());
  const auto line = reader.next(std::chrono::seconds(60));
  if (!line) return 1;
  cluster::KeeperSpec spec;
  try {
    spec = cluster::decode_spec(*line);
  } catch (const Error& e) {
    platform::send_line(launch.get(),
                        cluster::encode(cluster::Reply::failure(ExitCode::kSystem, e.what())));
    return 1;
  }
  keeper::Keeper keeper(std::move(spec), std::move(launch));
  return keeper.run();
}

int refill(const char* cache_path, const char* key, const char* template_dir) {
  try {
    const auto cache = platform::Dir::open(cache_path);
    if (!cache) return 1;
    // Not while `cache clear` runs: what it removes stays removed.
    const auto lock = platform::FileLock::try_shared(*cache, cluster::kCacheLock);
    if (!lock.held()) return 0;
    cluster::refill_spares(*cache, cluster::Template{key, template_dir});
    return 0;
  } catch (const std::exception& e) {
    // A missing spare only makes the next start copy the template itself.
    std::fprintf(stderr, "pg_unit_tests-keeper refill: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // The directory this program runs from, held for the life of the process (and of the pool and
  // guardian it starts): under root it is a copy that root removes once nobody holds it
  // (cluster/keeper_client.cpp). Unreadable or gone, nothing is held: root's minute of grace after
  // the copy was chosen then covers the start.
  platform::FileLock own_directory;
  try {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) own_directory = platform::FileLock::directory_shared(self.parent_path());
  } catch (const Error&) {
  }
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode == "serve" && argc == 3) return serve();
  if (mode == "refill" && argc == 5) return refill(argv[2], argv[3], argv[4]);
  std::fprintf(stderr,
               "pg_unit_tests-keeper: runs each server of pg_unit_tests; the harness starts it "
               "(usage: serve DIR, with the specification on fd 3; refill CACHE KEY TEMPLATE)\n");
  return 2;
}
