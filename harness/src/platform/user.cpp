#include "platform/user.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"

namespace pg_unit_tests::platform {

namespace {

std::optional<ServerUser> lookup(const char* name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwnam_r(name, &pw, buf, sizeof buf, &found) != 0 || found == nullptr) return std::nullopt;
  ServerUser u;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.name = pw.pw_name;
  return u;
}

}  // namespace

ServerUser server_user() {
  const uid_t me = geteuid();
  if (me != 0) {
    ServerUser u;
    u.uid = me;
    u.gid = getegid();
    struct passwd* pw = getpwuid(me);
    u.name = pw ? pw->pw_name : std::to_string(me);
    return u;
  }
  auto existing = lookup(kServiceUser);
  if (!existing) {
    // Serialise concurrent harnesses: useradd fails if two create the same user at once.
    auto lock = FileLock::exclusive("/run/lock/pg_unit_tests-useradd.lock");
    existing = lookup(kServiceUser);
    if (!existing) {
      fs::path useradd = find_on_path("useradd");
      if (useradd.empty()) useradd = "/usr/sbin/useradd";
      RunResult r = run({useradd.string(), "--system", "--user-group", "--no-create-home",
                         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment",
                         "pg_unit_tests ephemeral PostgreSQL servers", kServiceUser});
      existing = lookup(kServiceUser);
      if (!existing) {
        throw Error(ExitCode::kSystem,
                    fmt::format("running as root, but could not create the unprivileged user '{}' "
                                "that PostgreSQL needs ({}): create it with 'useradd --system {}' "
                                "or run as another user",
                                kServiceUser, r.output.empty() ? "useradd failed" : r.output,
                                kServiceUser));
      }
    }
  }
  existing->switch_to = Credentials{existing->uid, existing->gid};
  return *existing;
}

}  // namespace pg_unit_tests::platform
