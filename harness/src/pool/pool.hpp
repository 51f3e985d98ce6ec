// The database pool of one server: `pg_unit_tests-pool`, started by the server's keeper on the
// first createdb or dropdb (see cluster/keeper_protocol.hpp, DATABASES). One poll loop: requests
// from the keeper on one descriptor, a few libpq connections that run CREATE and DROP DATABASE
// asynchronously, and a pidfd per owner process of a database handed out.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/keeper_protocol.hpp"
#include "platform/fd.hpp"
#include "pool/recent_names.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests::pool {

// The private copy of the server's postgres database that default clones come from: nobody
// connects to it, so "source database is being accessed by other users" cannot happen.
inline constexpr const char* kDefaultTemplate = "pgut_template";
// Where the pool's own connections go (never a database anyone clones).
inline constexpr const char* kMaintenanceDatabase = "pgut_pool";
inline constexpr int kWorkers = 2;

class Pool {
 public:
  // `conninfo` reaches the server as its superuser; requests arrive on `channel`.
  Pool(std::string conninfo, platform::Fd channel);
  int run();

 private:
  // One template's pool. Only templates nobody can connect to are pooled (the default and
  // snapshots): one that can change under us is cloned at each request instead.
  struct Template {
    std::string source;  // the database cloned
    std::string oid;     // its oid when the clones were made: a re-saved snapshot is new
    bool poolable = false;
    int size = 4;
    std::deque<std::string> ready;
    int filling = 0;
    bool failing = false;  // a refill failed: no more until the next request
  };
  struct Op {
    enum class Kind { kClone, kDrop } kind = Kind::kClone;
    std::string name, key, source;
    std::optional<cluster::Request> request;  // a caller waits for this clone
    platform::Fd owner;                       // its owner process, taken at the request

    static Op clone(std::string name, std::string key, std::string source) {
      Op op;
      op.name = std::move(name);
      op.key = std::move(key);
      op.source = std::move(source);
      return op;
    }
    static Op drop(std::string name) {
      Op op;
      op.kind = Kind::kDrop;
      op.name = std::move(name);
      return op;
    }
  };
  struct Worker {
    pq::Connection conn;
    std::optional<Op> op;
  };
  struct Handed {
    DatabaseInfo info;
    platform::Fd pidfd;
  };

  void handle(const std::string& line);
  void createdb(const cluster::Request& r);
  void dropdb(const cluster::Request& r);
  Template& resolve(const std::string& key);
  void make_default_template();
  void hand_out(const cluster::Request& r, const std::string& name, bool pooled,
                platform::Fd owner);
  void refill(const std::string& key);
  void dispatch();
  void complete(Worker& w);
  void reply(int tag, const cluster::Reply& reply);
  void publish();
  void owner_ended(const std::string& name);

  std::string conninfo_;
  platform::Fd channel_;
  std::string input_;
  pq::Connection control_;  // catalog questions, synchronously (each takes well under 1 ms)
  std::vector<Worker> workers_;
  std::deque<Op> urgent_, background_;  // clones a caller waits for; refills and drops
  std::map<std::string, Template> templates_;
  std::map<std::string, Handed> handed_;
  RecentNames dropped_{1024};  // by dropdb: a second dropdb says so
};

}  // namespace pg_unit_tests::pool
