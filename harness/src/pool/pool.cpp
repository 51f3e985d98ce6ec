#include "pool/pool.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "database/clone.hpp"
#include "platform/socket.hpp"

namespace pg_unit_tests::pool {

using cluster::Reply;
using cluster::Request;

namespace {

platform::Fd pidfd_of(int pid) {
  return platform::Fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

bool ended(const platform::Fd& pidfd) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

pq::Connection connect(const std::string& conninfo, const std::string& dbname) {
  pq::Connection c(conninfo, dbname, ExitCode::kNoSuchServer, "pg_unit_tests pool");
  c.quiet();
  return c;
}

void log(const std::string& line) {
  std::fprintf(stderr, "pg_unit_tests-pool: %s\n", line.c_str());
}

// Our connections must not sit in a database someone clones (postgres, template1): one of our
// own, made once per server from template0.
pq::Connection maintenance_connection(const std::string& conninfo) {
  {
    pq::Connection first = connect(conninfo, "template1");
    if (!database::database_exists(first, kMaintenanceDatabase)) {
      first.query(fmt::format("CREATE DATABASE {} TEMPLATE template0",
                              first.quote_identifier(kMaintenanceDatabase)));
    }
  }
  return connect(conninfo, kMaintenanceDatabase);
}

}  // namespace

Pool::Pool(std::string conninfo, platform::Fd channel)
    : conninfo_(std::move(conninfo)),
      channel_(std::move(channel)),
      control_(maintenance_connection(conninfo_)) {
  for (int i = 0; i < kWorkers; ++i) {
    workers_.push_back({connect(conninfo_, kMaintenanceDatabase), {}});
  }
}

int Pool::run() {
  for (;;) {
    std::vector<pollfd> fds = {{channel_.get(), POLLIN, 0}};
    for (const auto& w : workers_) fds.push_back({w.op ? w.conn.socket() : -1, POLLIN, 0});
    std::vector<std::string> owners;
    for (const auto& [name, h] : handed_) {
      if (!h.pidfd) continue;
      fds.push_back({h.pidfd.get(), POLLIN, 0});
      owners.push_back(name);
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (fds[1 + i].revents) complete(workers_[i]);
    }
    for (size_t i = 0; i < owners.size(); ++i) {
      if (fds[1 + workers_.size() + i].revents) owner_ended(owners[i]);
    }
    if (fds[0].revents) {
      char buf[4096];
      const ssize_t n = read(channel_.get(), buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return 0;  // the keeper is done
      if (n > 0) input_.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = input_.find('\n')) != std::string::npos;) {
        const std::string line = input_.substr(0, nl);
        input_.erase(0, nl + 1);
        handle(line);
      }
    }
    dispatch();
  }
}

void Pool::handle(const std::string& line) {
  Request r;
  try {
    r = cluster::decode_request(line);
    if (r.op == "createdb") {
      createdb(r);
    } else if (r.op == "dropdb") {
      dropdb(r);
    } else {
      reply(r.tag, Reply::failure(ExitCode::kUsage, fmt::format("unknown request '{}'", r.op)));
    }
  } catch (const Error& e) {
    reply(r.tag, Reply::failure(e.code(), e.what()));
  }
}

void Pool::make_default_template() {
  if (database::database_exists(control_, kDefaultTemplate)) return;
  // The server's database as it is at the first createdb: after --init and --create, before the
  // tests change it. PostgreSQL copies it only while nobody is connected to it (it waits 5 s for
  // sessions that are ending).
  try {
    database::clone(control_, kDefaultTemplate, "postgres", CloneStrategy::kAuto);
  } catch (const Error& e) {
    throw Error(
        e.code(),
        fmt::format("cannot make the server's default template (a private copy "
                    "of its database postgres, made once, at the first createdb "
                    "without --template): {}; or call createdb once before connecting to postgres",
                    e.what()));
  }
  control_.query(fmt::format("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
                             control_.quote_identifier(kDefaultTemplate)));
}

Pool::Template& Pool::resolve(const std::string& key) {
  // The default template is ours and never changes: no catalog question on the hot path.
  if (const auto known = templates_.find(key); key.empty() && known != templates_.end()) {
    known->second.failing = false;
    return known->second;
  }
  std::string source = key.empty() ? kDefaultTemplate : key;
  if (key.empty()) make_default_template();
  auto rows = control_.query(
      "SELECT datname, oid, NOT datallowconn FROM pg_database WHERE datname IN ($1, $2) "
      "ORDER BY datname = $1 DESC LIMIT 1",
      {source, database::kSnapshotPrefix + source});
  if (rows.empty()) {
    if (const auto gone = templates_.find(key); gone != templates_.end()) {
      for (auto& name : gone->second.ready) background_.push_back(Op::drop(name));
      templates_.erase(gone);
    }
    throw Error(ExitCode::kDatabase,
                fmt::format("no database or snapshot '{}' to use as a template", key));
  }
  Template& t = templates_[key];
  if (t.oid != rows[0][1] || t.source != rows[0][0]) {
    // New, or dropped and made again (a snapshot saved anew): what was made of the old one goes.
    for (auto& name : t.ready) background_.push_back(Op::drop(name));
    t.ready.clear();
    t.source = rows[0][0];
    t.oid = rows[0][1];
  }
  t.poolable = rows[0][2] == "t";
  t.failing = false;
  return t;
}

void Pool::createdb(const Request& r) {
  // The owner's pidfd at once: a pid names the process only while it runs (a pid reused while
  // the clone was made would tie the database to a stranger).
  platform::Fd owner;
  if (r.owner_pid > 0) {
    owner = pidfd_of(r.owner_pid);
    if (!owner || ended(owner)) {
      throw Error(ExitCode::kUsage,
                  fmt::format("the owner process {} is not running", r.owner_pid));
    }
  }
  Template& t = resolve(r.template_db);
  t.size = std::clamp(r.pool_size, 0, 64);
  if (t.poolable && !t.ready.empty()) {
    const std::string name = t.ready.front();
    t.ready.pop_front();
    hand_out(r, name, true, std::move(owner));
  } else {
    Op op = Op::clone(database::unique_name(database::kTestPrefix), r.template_db, t.source);
    op.request = r;
    op.owner = std::move(owner);
    urgent_.push_back(std::move(op));
  }
  refill(r.template_db);
}

void Pool::dropdb(const Request& r) {
  const auto it = handed_.find(r.database);
  if (dropped_.contains(r.database)) {
    throw Error(ExitCode::kDatabase, fmt::format("dropdb: '{}' was dropped already", r.database));
  }
  if (it == handed_.end()) {
    for (const auto& [key, t] : templates_) {
      for (const auto& name : t.ready) {
        if (name == r.database) {
          throw Error(ExitCode::kDatabase,
                      fmt::format("'{}' waits in the pool and was not handed out", name));
        }
      }
    }
    // Not ours: the caller drops it itself (one that createdb made without the pool).
    throw Error(ExitCode::kNoSuchServer,
                fmt::format("'{}' was not handed out by the pool", r.database));
  }
  background_.push_back(Op::drop(r.database));
  dropped_.insert(r.database);
  handed_.erase(it);
  reply(r.tag, Reply::success());
  publish();
}

void Pool::hand_out(const Request& r, const std::string& name, bool pooled, platform::Fd owner) {
  Handed h;
  if (r.owner_pid > 0) {
    h.pidfd = std::move(owner);
    if (ended(h.pidfd)) {  // it ended while its clone was made
      background_.push_back(Op::drop(name));
      reply(r.tag, Reply::failure(ExitCode::kUsage,
                                  fmt::format("the owner process {} is not running", r.owner_pid)));
      return;
    }
  }
  h.info.name = name;
  h.info.template_name = r.template_db;
  h.info.label = r.label;
  h.info.owner_pid = r.owner_pid;
  h.info.created_at = std::time(nullptr);
  h.info.pooled = pooled;
  Reply ok = Reply::success();
  ok.database = h.info;
  handed_.emplace(name, std::move(h));
  reply(r.tag, ok);
  publish();
}

void Pool::refill(const std::string& key) {
  Template& t = templates_[key];
  if (!t.poolable || t.failing) return;
  while (static_cast<int>(t.ready.size()) + t.filling < t.size) {
    ++t.filling;
    background_.push_back(Op::clone(database::unique_name(database::kTestPrefix), key, t.source));
  }
}

void Pool::dispatch() {
  for (auto& w : workers_) {
    if (w.op) continue;
    std::deque<Op>& queue = !urgent_.empty() ? urgent_ : background_;
    if (queue.empty()) return;
    Op op = std::move(queue.front());
    queue.pop_front();
    const std::string sql =
        op.kind == Op::Kind::kDrop
            ? fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)",
                          w.conn.quote_identifier(op.name))
            : database::clone_sql(w.conn, op.name, op.source, CloneStrategy::kAuto);
    w.conn.send(sql);
    w.op = std::move(op);
  }
}

void Pool::complete(Worker& w) {
  std::optional<pq::ServerError> failure;
  try {
    if (!w.conn.finished()) return;
  } catch (const pq::ServerError& e) {
    failure = e;
  }
  Op op = std::move(*w.op);
  w.op.reset();
  if (op.kind == Op::Kind::kDrop) {
    if (failure) log(fmt::format("dropping {}: {}", op.name, failure->what()));
    publish();
    return;
  }
  const auto t = templates_.find(op.key);
  if (!op.request) {
    if (t == templates_.end()) {  // its template was dropped meanwhile
      if (!failure) background_.push_back(Op::drop(op.name));
      return;
    }
    --t->second.filling;
    if (failure) {
      t->second.failing = true;
      log(fmt::format("cloning {}: {}", op.source, failure->what()));
    } else if (t->second.source != op.source) {
      background_.push_back(Op::drop(op.name));  // its template changed
    } else {
      t->second.ready.push_back(op.name);
    }
    publish();
    return;
  }
  if (!failure) {
    hand_out(*op.request, op.name, false, std::move(op.owner));
    return;
  }
  std::string message = failure->what();
  if (failure->sqlstate == "55006") {
    try {
      database::require_no_sessions(control_, op.source, "cannot use it as a template");
    } catch (const Error& e) {
      message = e.what();
    }
  }
  reply(op.request->tag, Reply::failure(ExitCode::kDatabase, message));
}

void Pool::owner_ended(const std::string& name) {
  background_.push_back(Op::drop(name));
  handed_.erase(name);
  publish();
}

void Pool::reply(int tag, const Reply& reply) {
  nlohmann::json j = {{"tag", tag}, {"reply", nlohmann::json::parse(cluster::encode(reply))}};
  platform::send_line(channel_.get(),
                      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Pool::publish() {
  nlohmann::json databases = nlohmann::json::array();
  for (const auto& [name, h] : handed_) databases.push_back(h.info);
  int pooled = 0;
  for (const auto& [key, t] : templates_) pooled += static_cast<int>(t.ready.size());
  platform::send_line(
      channel_.get(),
      nlohmann::json{{"event", "databases"}, {"databases", databases}, {"pooled", pooled}}.dump());
}

}  // namespace pg_unit_tests::pool
