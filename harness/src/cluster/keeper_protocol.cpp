#include "cluster/keeper_protocol.hpp"

#include <tuple>

#include <fmt/format.h>

#include "platform/fs.hpp"
#include "platform/socket.hpp"

namespace pg_unit_tests::cluster {

namespace {

template <typename T>
T decode(const std::string& line, const char* what) {
  try {
    return nlohmann::json::parse(line).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ExitCode::kSystem,
                fmt::format("keeper protocol: malformed {}: {}", what, e.what()));
  }
}

}  // namespace

const char* to_string(KeeperState state) {
  switch (state) {
    case KeeperState::kStarting:
      return "starting";
    case KeeperState::kPooled:
      return "pooled";
    case KeeperState::kOwned:
      return "owned";
    case KeeperState::kStopping:
      return "stopping";
  }
  return "?";
}

Reply Reply::failure(ExitCode code, std::string message) {
  Reply r;
  r.code = static_cast<int>(code);
  r.message = std::move(message);
  return r;
}

Reply Reply::success(std::optional<KeeperStatus> status) {
  Reply r;
  r.ok = true;
  r.code = 0;
  r.status = std::move(status);
  return r;
}

const Reply& Reply::check() const {
  if (!ok) throw Error(static_cast<ExitCode>(code), message);
  return *this;
}

std::string encode(const KeeperSpec& spec) {
  return nlohmann::json(spec).dump();
}

std::string encode(const Request& request) {
  return nlohmann::json(request).dump();
}

std::string encode(const Reply& reply) {
  nlohmann::json j = {{"ok", reply.ok}};
  if (!reply.ok) {
    j["code"] = reply.code;
    j["message"] = reply.message;
  }
  if (reply.status) j["status"] = *reply.status;
  if (reply.database) j["database"] = *reply.database;
  // Replace invalid UTF-8 (a path, a server's complaint) rather than fail to answer.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

KeeperSpec decode_spec(const std::string& line) {
  return decode<KeeperSpec>(line, "specification");
}

Request decode_request(const std::string& line) {
  return decode<Request>(line, "request");
}

Reply decode_reply(const std::string& line) {
  try {
    const auto j = nlohmann::json::parse(line);
    Reply r;
    r.ok = j.at("ok").get<bool>();
    r.code = j.value("code", r.ok ? 0 : static_cast<int>(ExitCode::kSystem));
    r.message = j.value("message", "");
    if (j.contains("status")) r.status = j.at("status").get<KeeperStatus>();
    if (j.contains("database")) r.database = j.at("database").get<DatabaseInfo>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ExitCode::kSystem, fmt::format("keeper protocol: malformed reply: {}", e.what()));
  }
}

std::string pool_token_name(const std::string& pool_key, const std::string& id) {
  return fmt::format("{}{}-{}", kPoolPrefix, pool_key, id);
}

KeeperSpec spare_of(const KeeperSpec& spec) {
  KeeperSpec spare = spec;
  spare.spare = true;
  spare.owned = false;
  spare.owner_pid = 0;
  spare.id = platform::random_hex(5);
  spare.directory = spec.directory.parent_path() / spare.id;
  return spare;
}

SpawnedKeeper spawn_keeper(const KeeperSpec& spec, const std::optional<platform::Credentials>& as,
                           const std::filesystem::path& program) {
  SpawnedKeeper out;
  platform::Fd theirs;
  std::tie(out.connection, theirs) = platform::socket_pair();
  platform::SpawnSpec s;
  s.argv = {program.string(), "serve", spec.directory.string()};
  s.fds.push_back({theirs.get(), kLaunchFd});
  s.new_session = true;  // Ctrl-C in a terminal goes to the foreground group, not to the keeper
  s.detach = !spec.owned;
  s.cwd = "/";
  s.as = as;
  const pid_t pid = platform::spawn(s);
  theirs.reset();
  if (!platform::send_line(out.connection.get(), encode(spec))) {
    if (spec.owned) platform::wait_for(pid);
    throw Error(ExitCode::kSystem, "the server's keeper ended before it got its specification");
  }
  if (spec.owned) out.pid = pid;
  return out;
}

}  // namespace pg_unit_tests::cluster
