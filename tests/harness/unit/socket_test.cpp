// Unit tests (no server): the keeper's Unix socket. Clean-up (run_dir.cpp) removes a server
// directory whose keeper.sock refuses connections, so a socket must never be seen refusing while
// its keeper is being born: between bind(2) and listen(2) it would.
#include "platform/socket.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "platform/fd.hpp"

namespace fs = std::filesystem;
using namespace pg_unit_tests;

TEST(UnixSocket, ASocketThatCanBeSeenAnswers) {
  char tmpl[] = "/tmp/pgut-socket-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  // Rounds until a deadline: the window is short, so this catches it only now and then (the old
  // listen_unix 16 times in 2000 rounds on a loaded machine); the next test is the exact one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::atomic<int> connected{0}, refused{0};
  std::atomic<bool> done{false};
  // Knocks at each socket from the moment before it is made until it answers.
  std::thread prober([&] {
    for (int i = 0; !done; ++i) {
      const fs::path path = dir / ("s" + std::to_string(i));
      while (!done) {
        if (platform::connect_unix(path)) break;
        if (errno == ECONNREFUSED) ++refused;
      }
      connected = i + 1;
    }
  });
  int rounds = 0;
  for (; rounds < 2000 && std::chrono::steady_clock::now() < deadline; ++rounds) {
    const platform::Fd listener = platform::listen_unix(dir / ("s" + std::to_string(rounds)));
    while (connected.load() <= rounds) std::this_thread::yield();
  }
  done = true;
  prober.join();
  EXPECT_EQ(refused.load(), 0) << "a socket refused connections before it listened (" << rounds
                               << " rounds)";
  fs::remove_all(dir);
}

TEST(UnixSocket, ItsNameAppearsByARenameOnceItListens) {
  char tmpl[] = "/tmp/pgut-socket-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const platform::Fd watch(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(watch);
  ASSERT_GE(inotify_add_watch(watch.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO), 0);
  const platform::Fd listener = platform::listen_unix(dir / "keeper.sock");
  bool created = false, renamed = false;
  alignas(inotify_event) char buf[4096];
  for (ssize_t n; (n = read(watch.get(), buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(p);
      if (e->len > 0 && std::string(e->name) == "keeper.sock") {
        created |= (e->mask & IN_CREATE) != 0;
        renamed |= (e->mask & IN_MOVED_TO) != 0;
      }
      p += sizeof(inotify_event) + e->len;
    }
  }
  EXPECT_FALSE(created) << "bind(2) made keeper.sock itself: seen before it listened";
  EXPECT_TRUE(renamed);
  EXPECT_TRUE(platform::connect_unix(dir / "keeper.sock"));
  fs::remove_all(dir);
}
