// The suite runner: plans the tests (schedules, extra tests), provides a server (ephemeral or
// existing), prepares the databases as pg_regress does, runs psql for each test exactly as
// pg_regress runs it, compares, and reports with the verdicts of the pg_regress of the
// installation's version. A version matrix runs it once per installation.
// Over 400 lines on purpose: one Runner whose steps share its state; split, that state would be
// handed from file to file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cluster/keeper_client.hpp"
#include "cluster/launch.hpp"
#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/regress.hpp"
#include "platform/fd.hpp"
#include "platform/process.hpp"
#include "platform/trace.hpp"
#include "platform/user.hpp"
#include "pq/connection.hpp"
#include "pq/conninfo.hpp"
#include "regress/compare.hpp"
#include "regress/config.hpp"
#include "regress/lend.hpp"
#include "regress/matrix.hpp"
#include "regress/report.hpp"

namespace pg_unit_tests::regress {

namespace {

using Clock = std::chrono::steady_clock;
using Env = std::vector<std::pair<std::string, std::string>>;

// One connection for set-up statements, worded as pg_regress reports them: a refusal is libpq's
// first line ("ERROR:  ...").
class Admin {
 public:
  explicit Admin(const std::string& conninfo) : conn_(connect(conninfo)) {
    // NOTICEs of set-up statements ("extension already exists, skipping") are not news.
    conn_.quiet();
  }
  // Runs the statements; returns the server's error message, empty on success.
  std::string try_exec(const std::string& sql) {
    try {
      conn_.execute(sql);
      return {};
    } catch (const pq::ServerError& e) {
      return reported(e.diagnostics);
    }
  }
  pq::Connection& connection() { return conn_; }
  // Quoting by libpq, which knows the connection's encoding.
  std::string ident(const std::string& s) const { return conn_.quote_identifier(s); }
  std::string literal(const std::string& s) const { return conn_.quote_literal(s); }
  void exec(const std::string& sql, ExitCode code = ExitCode::kUsage) {
    if (std::string e = try_exec(sql); !e.empty()) {
      throw Error(code, fmt::format("{} failed: {}", sql, e));
    }
  }
  // libpq's first line of a refusal: "SEVERITY:  primary".
  static std::string reported(const pq::Diagnostics& d) {
    const std::string primary = d.primary.substr(0, d.primary.find('\n'));
    return d.severity.empty() ? primary : d.severity + ":  " + primary;
  }

 private:
  static pq::Connection connect(const std::string& conninfo) {
    try {
      return pq::Connection(conninfo, {}, ExitCode::kServerStart);
    } catch (const pq::ConnectError& e) {
      throw Error(ExitCode::kServerStart,
                  fmt::format("could not connect to the server ({}): {}", conninfo, e.reason));
    }
  }
  pq::Connection conn_;
};

struct Planned {
  std::string name;
  fs::path input, expected, result;
  std::string database;
  std::string clone_from;       // isolated: CREATE DATABASE database TEMPLATE clone_from first
  bool ignore_failure = false;  // an `ignore:` line above its schedule line names it
};

class Runner {
 public:
  // `matrix_label`: in a version matrix, the installation's label; its results and report files
  // go to results/LABEL/.
  Runner(const Options& o, Observer& observer, std::string matrix_label = {})
      : o_(o), observer_(observer), matrix_label_(std::move(matrix_label)) {}
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  ~Runner() { request_stop(); }  // after an error: the server must not wait for our exit

  Summary run();

 private:
  void plan();
  int pg_major();
  const Installation& installation();
  void find_programs();
  void prepare_output();
  void start_server();
  void start_warm(ServerOptions so);
  void stop_server();
  void request_stop() noexcept;
  const ServerInfo* server_info() const {
    return server_ ? &server_->info() : detached_ ? &*detached_ : nullptr;
  }
  void lend_output();
  void prepare_databases();
  Env psql_environment() const;
  std::string conninfo(const std::string& db) const;
  TestResult run_one(const Planned& p, int group, bool parallel);
  std::vector<TestResult> run_batch(const Group& group, std::vector<Planned> tests,
                                    size_t concurrency, bool parallel,
                                    const std::vector<std::string>& worker_dbs = {});
  // CREATE DATABASE name TEMPLATE from; returns the error, empty on success.
  std::string clone(const std::string& from, const std::string& name);
  Planned make_planned(const std::string& name, const std::string& db) const;
  void finish(Summary& s);

  const Options& o_;
  Observer& observer_;
  const std::string matrix_label_;
  std::mutex observer_mutex_;
  std::optional<Installation> installation_;
  int major_ = 0;  // whose pg_regress's verdicts apply
  bool isolation_ = false;
  const char* input_dir_ = "sql";  // where a test's input is: sql/T.sql or specs/T.spec
  const char* input_ext_ = ".sql";
  std::vector<std::string> dbnames_;
  fs::path inputdir_, outputdir_, psql_, isolationtester_, dlpath_;
  fs::path results_dir_;                // results/, or results/LABEL/ in a version matrix
  fs::path report_dir_;                 // where regression.diffs and regression.out go
  std::vector<Group> groups_;           // run as pg_regress runs them
  std::vector<Group> isolated_;         // run concurrently in clones (--jobs, --isolate)
  std::vector<bool> isolated_ignored_;  // --isolate: per test of isolated_, its failure is ignored
  bool existing_ = false;
  // Declared before server_: destroyed after it, so the server has stopped writing into them.
  std::vector<detail::LentDirectory> lent_;
  std::vector<fs::path> result_dirs_;  // results/ and its subdirectories for names with a slash
  std::optional<Server> server_;
  // Options::stop_in_background or keep_warm: the server is tied to this process, not to an
  // object (see stop_server()).
  std::optional<ServerInfo> detached_;
  std::string server_text_;
  Env env_;
  std::vector<std::string> clones_;
  std::mutex clones_mutex_;
  int group_index_ = 0;
};

Planned Runner::make_planned(const std::string& name, const std::string& db) const {
  Planned p;
  p.name = name;
  // Output directory first, then the input directory (pg_regress_main.c).
  p.input = outputdir_ / input_dir_ / (name + input_ext_);
  if (!fs::exists(p.input)) p.input = inputdir_ / input_dir_ / (name + input_ext_);
  p.expected = outputdir_ / "expected" / (name + ".out");
  if (!fs::exists(p.expected)) p.expected = inputdir_ / "expected" / (name + ".out");
  p.result = results_dir_ / (name + ".out");
  p.database = db;
  return p;
}

void Runner::plan() {
  std::vector<Group> scheduled;
  for (const auto& file : o_.schedules) {
    Schedule s = parse_schedule(file, major_);
    for (auto& g : s.groups) scheduled.push_back(std::move(g));
  }
  std::vector<Group> extra;
  for (const auto& t : o_.tests) extra.push_back(Group{{t}, "", 0, {}});
  if (o_.isolate) {
    Group all;
    for (auto* list : {&scheduled, &extra}) {
      for (const auto& g : *list) {
        for (const auto& t : g.tests) {
          all.tests.push_back(t);
          isolated_ignored_.push_back(g.ignored.count(t) > 0);
        }
      }
    }
    if (!all.tests.empty()) isolated_.push_back(std::move(all));
  } else {
    groups_ = std::move(scheduled);
    if (o_.jobs > 1 && extra.size() > 1) {
      Group all;
      for (const auto& g : extra) all.tests.push_back(g.tests[0]);
      isolated_.push_back(std::move(all));
    } else {
      for (auto& g : extra) groups_.push_back(std::move(g));
    }
  }
  // Every test must have its input before anything starts (pg_regress would fail it later with a
  // shell error in results/T.out).
  for (const auto* list : {&groups_, &isolated_}) {
    for (const auto& g : *list) {
      if (o_.max_concurrent_tests > 0 && g.tests.size() > 1 &&
          g.tests.size() > static_cast<size_t>(o_.max_concurrent_tests) && !g.file.empty()) {
        throw Error(ExitCode::kUsage,
                    fmt::format("too many parallel tests (more than {}) in schedule file \"{}\" "
                                "line {}",
                                o_.max_concurrent_tests, g.file, g.line));
      }
      for (const auto& t : g.tests) {
        const Planned p = make_planned(t, "");
        if (!fs::is_regular_file(p.input)) {
          const std::string where =
              g.file.empty() ? "" : fmt::format(" (schedule \"{}\" line {})", g.file, g.line);
          throw Error(
              ExitCode::kUsage,
              fmt::format("unknown test \"{}\"{}: there is no {}/{}{} (looked in {} and "
                          "{}; set --inputdir to the directory holding {}/ and expected/)",
                          t, where, input_dir_, t, input_ext_, (outputdir_ / input_dir_).string(),
                          (inputdir_ / input_dir_).string(), input_dir_));
        }
      }
    }
  }
  if (groups_.empty() && isolated_.empty()) {
    throw Error(ExitCode::kUsage,
                "no tests to run: name tests (as REGRESS does) or give --schedule FILE");
  }
}

const Installation& Runner::installation() {
  if (!installation_) installation_ = Installation::find(o_.server.pg_config);
  return *installation_;
}

// The major version whose pg_regress the run behaves as: the installation's (PGXS runs its
// pg_regress), or an existing server's when there is no installation (--bindir and --dlpath).
int Runner::pg_major() {
  try {
    return installation().major;
  } catch (const Error&) {
    if (!existing_) throw;
  }
  Admin admin(conninfo(o_.use_existing ? dbnames_.front() : "postgres"));
  pq::Rows rows;
  try {
    rows = admin.connection().query("SELECT current_setting('server_version_num')::int / 10000");
  } catch (const pq::ServerError& e) {
    throw Error(ExitCode::kServerStart, fmt::format("could not read the server's version: {}",
                                                    Admin::reported(e.diagnostics)));
  }
  if (rows.size() != 1) {
    throw Error(ExitCode::kServerStart, "could not read the server's version: no row");
  }
  return std::atoi(rows[0][0].c_str());
}

void Runner::find_programs() {
  if (o_.dlpath.empty()) {
    dlpath_ = installation().pkglibdir;
  } else {
    dlpath_ = detail::absolute_dir(o_.dlpath);
  }
  if (isolation_) {
    // pg_isolation_regress runs the isolationtester beside itself, whatever --bindir says.
    isolationtester_ = !o_.isolationtester.empty()
                           ? fs::path(o_.isolationtester)
                           : installation().pkglibdir / "pgxs/src/test/isolation/isolationtester";
    if (access(isolationtester_.c_str(), X_OK) != 0) {
      throw Error(ExitCode::kInstallation,
                  fmt::format("isolationtester was not found at {}: install PostgreSQL's server "
                              "development files (Debian: postgresql-server-dev-{}), which ship "
                              "it with pg_isolation_regress, or give --isolationtester PATH",
                              isolationtester_.string(), installation().major));
    }
  } else {
    psql_ = !o_.bindir.empty() ? fs::path(o_.bindir) / "psql" : installation().bin("psql");
  }
  if (!isolation_ && access(psql_.c_str(), X_OK) != 0) {
    throw Error(ExitCode::kInstallation,
                fmt::format("psql was not found at {}: install the PostgreSQL client (Debian: "
                            "postgresql-client-{}) or point --bindir at the directory holding it",
                            psql_.string(), major_));
  }
  if (detail::diff_program().empty()) {
    throw Error(ExitCode::kInstallation,
                "the diff program was not found on PATH: install diffutils");
  }
}

void Runner::prepare_output() {
  std::error_code ec;
  fs::create_directories(results_dir_, ec);
  if (ec) {
    throw Error(ExitCode::kFilesystem, fmt::format("could not create directory \"{}\": {}",
                                                   results_dir_.string(), ec.message()));
  }
  // Subdirectories for test names with a slash (results/sub/t.out); results/ itself in a matrix
  // too, where tests write their own files (`\copy ... 'results/x'`).
  std::set<fs::path> dirs = {outputdir_ / "results", results_dir_};
  for (const auto* list : {&groups_, &isolated_}) {
    for (const auto& g : *list) {
      for (const auto& t : g.tests) {
        const fs::path dir = (results_dir_ / (t + ".out")).parent_path();
        fs::create_directories(dir, ec);
        dirs.insert(dir);
      }
    }
  }
  result_dirs_.assign(dirs.begin(), dirs.end());
  for (const char* f : {"regression.diffs", "regression.out"}) fs::remove(report_dir_ / f, ec);
}

std::string Runner::conninfo(const std::string& db) const {
  if (const ServerInfo* i = server_info()) return i->socket_conninfo(db);
  pq::Options c = {{"dbname", db}};
  if (!o_.host.empty()) c["host"] = o_.host;
  if (o_.port > 0) c["port"] = std::to_string(o_.port);
  if (!o_.user.empty()) c["user"] = o_.user;
  return pq::keyword_conninfo(c);
}

void Runner::start_server() {
  if (existing_) {
    const char* host = std::getenv("PGHOST");
    const char* port = std::getenv("PGPORT");
    server_text_ =
        fmt::format("existing server on {}, port {}",
                    !o_.host.empty() ? o_.host : (host && *host ? host : "the default Unix socket"),
                    o_.port > 0 ? std::to_string(o_.port) : (port && *port ? port : "default"));
    return;
  }
  // As in pg_regress: the temporary instance's settings, then --temp-config files over them; -o
  // (ours) last, over everything.
  ServerOptions so = o_.server;
  so.settings = temp_instance_settings();
  for (const auto& f : o_.temp_configs) {
    for (auto& s : detail::read_temp_config(f)) so.settings.push_back(std::move(s));
  }
  so.settings.insert(so.settings.end(), o_.server.settings.begin(), o_.server.settings.end());
  so.idle_timeout = std::chrono::seconds(0);
  if (o_.keep_warm) {
    start_warm(so);
  } else if (o_.stop_in_background) {
    // Owned by this process (its keeper watches it through a pidfd), so that the server still
    // goes if we are killed, and its teardown need not be waited for.
    so.owner_pid = static_cast<int>(getpid());
    detached_.emplace(Server::start_detached(so));
  } else {
    server_.emplace(Server::start(so));
  }
  const ServerInfo& i = *server_info();
  server_text_ =
      fmt::format("ephemeral server {} (PostgreSQL {}), port {}", i.id, i.version, i.port);
}

// --keep-warm: the server is a pre-started spare of this configuration if one is ready (its keeper
// then launches a replacement); otherwise we start one and launch a spare for the next run, as a
// claimed spare's keeper does: nobody waits for its report, so the tests do not wait for it.
void Runner::start_warm(ServerOptions so) {
  so.owner_pid = static_cast<int>(getpid());
  const cluster::Launch l = cluster::prepare_launch(so, false);
  const std::string token = std::string(cluster::kPoolPrefix) + l.spec.pool_key + "-";
  bool spare_ready = false;
  for (const auto& name : l.cache_dir->entries()) spare_ready |= name.rfind(token, 0) == 0;
  detached_.emplace(cluster::start_server(l).info);
  if (spare_ready) return;
  try {
    // keeper_program(); nobody waits for its report
    cluster::spawn_keeper(cluster::spare_of(l.spec), l.as, l.keeper);
  } catch (const Error& e) {
    observer_.note(fmt::format("--keep-warm: no spare server for the next run: {}", e.what()));
  }
}

// Every test has ended, so the server writes nothing more into the lent directories: they go
// back to their owner first. Then the server stops: at once and waiting for its keeper to have
// removed everything (Server::stop), or, with Options::stop_in_background, by a stop request whose
// answer we do not wait for (the keeper finishes the teardown while the verdict is printed; were
// the request lost, the end of this process, the server's owner, stops it).
void Runner::stop_server() {
  lent_.clear();
  if (server_) server_->stop();
  if (detached_ && !o_.stop_in_background) {
    Server::stop(detached_->directory.string());  // --keep-warm in a library call
    detached_.reset();
  }
  request_stop();
}

void Runner::request_stop() noexcept {
  if (!detached_) return;
  try {
    const platform::ServerUser user = platform::server_user();
    if (auto keeper = cluster::KeeperConnection::connect(detached_->directory, user.uid)) {
      platform::send_line(keeper->fd(), cluster::encode(cluster::Request{"stop"}));
    }
  } catch (const std::exception&) {
    // The end of this process, the server's owner, stops it.
  }
  detached_.reset();
}

// Under root the server runs as the harness's system user: results/ is lent to it for the run (see
// lend.hpp), so that tests can make the server write files there as under pg_regress.
void Runner::lend_output() {
  if (!server_info()) return;
  const platform::ServerUser user = platform::server_user();
  if (!user.switch_to) return;
  const platform::Credentials c = *user.switch_to;
  if (!detail::reachable_by(outputdir_, c.uid, c.gid)) {
    observer_.note(
        fmt::format("the server runs as the user {}, which cannot reach {}: tests that "
                    "make the server read or write files there will fail (make the "
                    "directories above it searchable by that user)",
                    user.name, outputdir_.string()));
  }
  for (const auto& dir : result_dirs_) {
    std::string why_not;
    lent_.push_back(detail::LentDirectory::lend(dir, c.uid, c.gid, &why_not));
    if (!why_not.empty()) observer_.note(why_not);
  }
}

void Runner::prepare_databases() {
  if (o_.use_existing) return;
  // With a migrated template (--init), the test databases are copies of its migrated database
  // "postgres", which must then have no session: set up from template1 instead.
  const bool migrated =
      server_info() && (!o_.server.init.empty() || !o_.server.init_command.empty());
  Admin admin(conninfo(migrated ? "template1" : "postgres"));
  if (existing_) {
    admin.exec("SET client_min_messages = warning");
    for (const auto& db : dbnames_) admin.exec("DROP DATABASE IF EXISTS " + admin.ident(db));
    for (const auto& r : o_.create_roles) admin.exec("DROP ROLE IF EXISTS " + admin.ident(r));
  }
  // pg_regress gives --encoding and --no-locale to CREATE DATABASE; the cluster's locale (C.UTF-8)
  // only fits UTF8, so another encoding gets the C locale.
  std::string enc = o_.encoding;
  std::transform(enc.begin(), enc.end(), enc.begin(), ::tolower);
  const bool c_locale = o_.no_locale || (!enc.empty() && enc != "utf8" && enc != "utf-8" &&
                                         enc != "unicode" && enc != "sql_ascii");
  for (const auto& db : dbnames_) {
    observer_.setup(fmt::format("creating database \"{}\"", db));
    std::string create = "CREATE DATABASE " + admin.ident(db) +
                         (migrated ? " TEMPLATE=postgres" : " TEMPLATE=template0");
    if (!o_.encoding.empty()) create += " ENCODING=" + admin.literal(o_.encoding);
    if (c_locale) create += " LC_COLLATE='C' LC_CTYPE='C'";
    // The same database either way; on our fsync-off server a file copy takes a fraction of
    // WAL-logging template0 block by block (PostgreSQL 15's default).
    if (server_info()) create += " STRATEGY=FILE_COPY";
    admin.exec(create);
    // pg_regress's six settings, in one round trip.
    std::string settings;
    for (const char* setting :
         {"lc_messages TO 'C'", "lc_monetary TO 'C'", "lc_numeric TO 'C'", "lc_time TO 'C'",
          "bytea_output TO 'hex'", "timezone_abbreviations TO 'Default'"}) {
      settings += fmt::format("ALTER DATABASE {} SET {};", admin.ident(db), setting);
    }
    admin.exec(settings);
  }
  for (const auto& r : o_.create_roles) {
    observer_.setup(fmt::format("creating role \"{}\"", r));
    admin.exec("CREATE ROLE " + admin.ident(r) + " WITH LOGIN");
    for (const auto& db : dbnames_) {
      admin.exec(fmt::format("GRANT ALL ON DATABASE {} TO {}", admin.ident(db), admin.ident(r)));
    }
  }
  for (const auto& db : dbnames_) {
    if (o_.load_extensions.empty()) continue;
    Admin in_db(conninfo(db));
    for (const auto& e : o_.load_extensions) {
      observer_.setup(fmt::format("installing {}", e));
      if (std::string err = in_db.try_exec("CREATE EXTENSION IF NOT EXISTS " + in_db.ident(e));
          !err.empty()) {
        throw Error(ExitCode::kExtension,
                    fmt::format("--load-extension={}: CREATE EXTENSION failed in database \"{}\": "
                                "{} (is the extension served with --extension DIR?)",
                                e, db, err));
      }
    }
  }
}

// The environment of psql, as pg_regress's initialize_environment() sets it.
Env Runner::psql_environment() const {
  Env env;
  env.push_back({"PG_ABS_SRCDIR", inputdir_.string()});
  env.push_back({"PG_ABS_BUILDDIR", outputdir_.string()});
  env.push_back({"PG_LIBDIR", dlpath_.string()});
  env.push_back({"PG_DLSUFFIX", ".so"});
  if (o_.no_locale) {
    for (const char* v : {"LC_COLLATE", "LC_CTYPE", "LC_MONETARY", "LC_NUMERIC", "LC_TIME", "LANG"})
      env.push_back({v, ""});
  }
  env.push_back({"LANGUAGE", ""});
  env.push_back({"LC_ALL", ""});
  env.push_back({"LC_MESSAGES", "C"});
  env.push_back({"PGCLIENTENCODING", o_.encoding});
  env.push_back({"PGTZ", "America/Los_Angeles"});
  env.push_back({"PGDATESTYLE", "Postgres, MDY"});
  const char* old = std::getenv("PGOPTIONS");
  env.push_back({"PGOPTIONS", fmt::format("{} -c intervalstyle=postgres_verbose", old ? old : "")});
  if (server_info()) {
    // Like a temp instance: nothing from the caller's environment redirects psql elsewhere.
    for (const char* v : {"PGCHANNELBINDING",
                          "PGCONNECT_TIMEOUT",
                          "PGDATA",
                          "PGDATABASE",
                          "PGGSSENCMODE",
                          "PGGSSLIB",
                          "PGKRBSRVNAME",
                          "PGPASSFILE",
                          "PGPASSWORD",
                          "PGREQUIREPEER",
                          "PGREQUIRESSL",
                          "PGSERVICE",
                          "PGSERVICEFILE",
                          "PGSSLCERT",
                          "PGSSLCRL",
                          "PGSSLCRLDIR",
                          "PGSSLKEY",
                          "PGSSLMAXPROTOCOLVERSION",
                          "PGSSLMINPROTOCOLVERSION",
                          "PGSSLMODE",
                          "PGSSLROOTCERT",
                          "PGSSLSNI",
                          "PGTARGETSESSIONATTRS",
                          "PGHOSTADDR"}) {
      env.push_back({v, ""});
    }
    const ServerInfo& i = *server_info();
    env.push_back({"PGHOST", i.socket_directory.string()});
    env.push_back({"PGPORT", std::to_string(i.port)});
    env.push_back({"PGUSER", i.user});
  } else {
    if (!o_.host.empty()) {
      env.push_back({"PGHOST", o_.host});
      env.push_back({"PGHOSTADDR", ""});
    }
    if (o_.port > 0) env.push_back({"PGPORT", std::to_string(o_.port)});
    if (!o_.user.empty()) env.push_back({"PGUSER", o_.user});
    env.push_back({"PGDATABASE", ""});
  }
  return env;
}

TestResult Runner::run_one(const Planned& p, int group, bool parallel) {
  TestResult r;
  r.name = p.name;
  r.group = group;
  r.parallel = parallel;
  r.input = p.input;
  r.result = p.result;
  r.expected = p.expected;
  r.database = p.database;
  r.started = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(observer_mutex_);
    observer_.test_started(p.name);
  }
  auto fail = [&](std::string message) {
    r.status = Status::kFailed;
    r.message = std::move(message);
    return r;
  };
  if (!p.clone_from.empty()) {
    if (std::string e = clone(p.clone_from, p.database); !e.empty()) return fail(e);
  }
  platform::Fd in(open(p.input.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in)
    return fail(fmt::format("could not read {}: {}", p.input.string(), std::strerror(errno)));
  platform::Fd out(open(p.result.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!out) {
    return fail(fmt::format("could not write {}: {}", p.result.string(), std::strerror(errno)));
  }
  platform::SpawnSpec spec;
  // pg_regress_main.c and isolation_main.c: the input on standard input in both.
  const std::vector<std::string> program =
      isolation_ ? std::vector<std::string>{isolationtester_.string(), "dbname=" + p.database}
                 : std::vector<std::string>{psql_.string(), "-X",
                                            "-a",           "-q",
                                            "-d",           p.database,
                                            "-v",           "HIDE_TABLEAM=on",
                                            "-v",           "HIDE_TOAST_COMPRESSION=on"};
  if (o_.launcher.empty()) {
    spec.argv = program;
  } else {
    // pg_regress puts the launcher in front of the program in a shell command line.
    spec.argv = {"/bin/sh", "-c", "exec " + o_.launcher + " \"$@\"", "sh"};
    spec.argv.insert(spec.argv.end(), program.begin(), program.end());
  }
  spec.stdin_fd = in.get();
  spec.stdout_fd = out.get();
  spec.stderr_fd = out.get();
  spec.env = env_;
  spec.env.push_back({"PGAPPNAME", (isolation_ ? "isolation/" : "pg_regress/") + p.name});
  // No cwd: pg_regress never changes directory, and tests' relative paths (`\i test/setup.sql`,
  // `\copy ... 'results/x'`) are relative to where it was started.
  const auto start = Clock::now();
  try {
    r.psql_status = platform::wait_for(platform::spawn(spec));
  } catch (const Error& e) {
    return fail(fmt::format("could not run {}: {}", spec.argv[0], e.what()));
  }
  r.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  in.reset();
  out.reset();

  const detail::Comparison c = detail::compare(p.expected, p.result);
  r.expected = c.expected;
  if (!c.error.empty()) return fail(c.error);
  // pg_regress 16 and later fail a test whose psql (or isolationtester) exits non-zero, whatever
  // its output; 15 only notes it.
  const bool exit_fails = r.psql_status != 0 && major_ >= 16;
  if (c.same) {
    if (exit_fails) {
      return fail(
          fmt::format("{} exited with status {} (PostgreSQL {}'s pg_regress fails such a "
                      "test even when its output is as expected)",
                      isolation_ ? "isolationtester" : "psql", r.psql_status, major_));
    }
    return r;
  }
  r.status = Status::kFailed;
  if (c.missing_expected) {
    r.message = fmt::format(
        "no expected output {} (nor alternatives {}_0..9.out): --accept "
        "creates it from {}",
        p.expected.string(), p.name, p.result.string());
  }
  const fs::path diff_file = p.result.string() + ".diff";
  if (std::string e = detail::write_pretty_diff(c.missing_expected ? fs::path() : c.expected,
                                                p.result, diff_file);
      !e.empty()) {
    r.message += (r.message.empty() ? "" : "; ") + e;
  }
  r.diff = detail::head_lines(diff_file, o_.diff_head_lines, &r.diff_truncated);
  if (o_.accept && !exit_fails) {
    std::error_code ec;
    fs::create_directories(c.expected.parent_path(), ec);
    fs::copy_file(p.result, c.expected, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      r.message =
          fmt::format("--accept: could not write {}: {}", c.expected.string(), ec.message());
    } else {
      r.status = Status::kAccepted;
      r.message = fmt::format("accepted: wrote {}", c.expected.string());
      fs::remove(diff_file, ec);
    }
  } else if (p.ignore_failure) {
    r.status = Status::kIgnored;
  }
  return r;
}

std::string Runner::clone(const std::string& from, const std::string& name) {
  try {
    Admin admin(conninfo("postgres"));
    if (existing_) admin.try_exec("DROP DATABASE IF EXISTS " + admin.ident(name));
    // FILE_COPY: a copy of the files, faster than WAL-logging every block of a small database.
    if (std::string e =
            admin.try_exec(fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
                                       admin.ident(name), admin.ident(from)));
        !e.empty()) {
      return fmt::format("could not clone database \"{}\": {}", from, e);
    }
  } catch (const Error& e) {
    return e.what();
  }
  std::lock_guard<std::mutex> lock(clones_mutex_);
  clones_.push_back(name);
  return {};
}

std::vector<TestResult> Runner::run_batch(const Group& group, std::vector<Planned> tests,
                                          size_t concurrency, bool parallel,
                                          const std::vector<std::string>& worker_dbs) {
  const int index = group_index_++;
  observer_.group_started(group, parallel);
  std::vector<TestResult> results(tests.size());
  std::atomic<size_t> next{0};
  auto work = [&](size_t worker) {
    for (size_t i; (i = next++) < tests.size();) {
      TestResult r;
      if (worker < worker_dbs.size()) tests[i].database = worker_dbs[worker];
      try {
        r = run_one(tests[i], index, parallel);
      } catch (const std::exception& e) {
        r.name = tests[i].name;
        r.status = Status::kFailed;
        r.message = e.what();
      }
      {
        std::lock_guard<std::mutex> lock(observer_mutex_);
        observer_.test_finished(r);
      }
      results[i] = std::move(r);
    }
  };
  concurrency = std::max<size_t>(1, std::min(concurrency, tests.size()));
  if (concurrency == 1) {
    work(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < concurrency; ++t) threads.emplace_back(work, t);
    for (auto& t : threads) t.join();
  }
  observer_.group_finished(group, results);
  return results;
}

void Runner::finish(Summary& s) {
  // regression.diffs: the diffs in run order; kept with regression.out only when there are any.
  s.diffs_file = report_dir_ / "regression.diffs";
  s.summary_file = report_dir_ / "regression.out";
  std::ofstream diffs(s.diffs_file, std::ios::binary | std::ios::trunc);
  bool any = false;
  for (const auto& t : s.tests) {
    const fs::path f = t.result.string() + ".diff";
    std::ifstream in(f, std::ios::binary);
    if (!in) continue;
    if (t.status == Status::kFailed || t.status == Status::kIgnored) {
      diffs << in.rdbuf();
      any = true;
    }
    in.close();
    std::error_code ec;
    fs::remove(f, ec);
  }
  diffs.close();
  std::error_code ec;
  if (!any) {
    fs::remove(s.diffs_file, ec);
    fs::remove(s.summary_file, ec);
    return;
  }
  detail::write_summary_file(s, s.summary_file);
}

Summary Runner::run() {
  const auto start = Clock::now();
  isolation_ = o_.kind == Kind::kIsolation;
  if (isolation_) {
    input_dir_ = "specs";
    input_ext_ = ".spec";
  }
  dbnames_ = o_.dbnames;
  if (dbnames_.empty()) dbnames_ = {isolation_ ? "isolation_regression" : "regression"};
  inputdir_ = detail::absolute_dir(o_.inputdir);
  outputdir_ = detail::absolute_dir(o_.outputdir);
  results_dir_ = outputdir_ / "results";
  report_dir_ = outputdir_;
  if (!matrix_label_.empty()) results_dir_ = report_dir_ = outputdir_ / "results" / matrix_label_;
  existing_ = o_.use_existing || !o_.host.empty() || o_.port > 0 || !o_.user.empty();
  major_ = pg_major();
  platform::trace("regress: planning");
  plan();
  find_programs();
  prepare_output();
  size_t total = 0;
  for (const auto* list : {&groups_, &isolated_}) {
    for (const auto& g : *list) total += g.tests.size();
  }
  start_server();
  observer_.begin(static_cast<int>(total), server_text_);
  lend_output();
  prepare_databases();
  platform::trace("regress: databases ready");
  env_ = psql_environment();

  Summary s;
  s.suite = isolation_ ? "isolation" : "regress";
  s.server = server_text_;
  if (const ServerInfo* i = server_info()) s.version = i->version;
  const std::string& db = dbnames_.front();
  auto collect = [&](std::vector<TestResult> results) {
    for (auto& r : results) s.tests.push_back(std::move(r));
  };
  for (const auto& g : groups_) {
    std::vector<Planned> tests;
    for (const auto& t : g.tests) {
      tests.push_back(make_planned(t, db));
      tests.back().ignore_failure = g.ignored.count(t) > 0;
    }
    const size_t n = tests.size();
    const size_t concurrency = o_.max_connections > 0 ? static_cast<size_t>(o_.max_connections) : n;
    collect(run_batch(g, std::move(tests), concurrency, n > 1));
  }
  for (const auto& g : isolated_) {
    size_t jobs = static_cast<size_t>(std::max(1, o_.jobs));
    if (o_.max_connections > 0) jobs = std::min(jobs, static_cast<size_t>(o_.max_connections));
    jobs = std::min(jobs, g.tests.size());
    std::vector<Planned> tests;
    std::vector<std::string> worker_dbs;
    auto clone_name = [&](size_t i) { return fmt::format("{}__pgut{}", db.substr(0, 48), i); };
    if (o_.isolate) {
      // Every test in a fresh clone of the prepared database.
      for (const auto& t : g.tests) {
        Planned p = make_planned(t, clone_name(tests.size() + 1));
        p.clone_from = db;
        p.ignore_failure = isolated_ignored_[tests.size()];
        tests.push_back(std::move(p));
      }
    } else {
      // --jobs: one database per worker (the prepared one and clones of it, made before any test
      // runs in it); each worker runs its share of the tests in its database, in order, as
      // pg_regress runs them all in one. One clone costs about a test's time; a clone per test
      // would cost more than it saves.
      worker_dbs.push_back(db);
      for (size_t w = 1; w < jobs; ++w) {
        worker_dbs.push_back(clone_name(w));
        if (std::string e = clone(db, worker_dbs.back()); !e.empty()) {
          throw Error(ExitCode::kServerStart, fmt::format("--jobs: {}", e));
        }
      }
      for (const auto& t : g.tests) tests.push_back(make_planned(t, db));
    }
    collect(run_batch(g, std::move(tests), jobs, true, worker_dbs));
  }
  if (existing_ && !clones_.empty()) {
    try {
      Admin admin(conninfo("postgres"));
      for (const auto& c : clones_) admin.try_exec("DROP DATABASE IF EXISTS " + admin.ident(c));
    } catch (const Error&) {
      // Leftover clones are named <db>__pgutN and replaced by the next run.
    }
  }
  detail::count_statuses(s);
  platform::trace("regress: tests done");
  finish(s);
  stop_server();  // every file the server left goes back to the owner of results/ first
  platform::trace(o_.stop_in_background ? "regress: server asked to stop"
                                        : "regress: server stopped");
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return s;
}

}  // namespace

Summary run(const Options& options, Observer& observer) {
  if (options.installations.size() > 1) {
    throw Error(ExitCode::kUsage,
                "regress::run takes one installation: run_matrix runs the suite on several");
  }
  if (options.installations.empty()) return Runner(options, observer).run();
  Options one = options;
  one.server.pg_config = options.installations.front();
  one.installations.clear();
  return Runner(one, observer).run();
}

int exit_code(const std::vector<Summary>& runs) {
  int worst = 0;
  for (const auto& s : runs) worst = std::max(worst, s.exit_code());
  return worst;
}

std::vector<Summary> run_matrix(const Options& options, Observer& observer) {
  std::vector<std::string> list = options.installations;
  if (list.empty()) list.push_back(options.server.pg_config);
  if (list.size() > 1) detail::check_matrix_options(options);
  const std::vector<detail::MatrixEntry> entries = detail::matrix_entries(list);
  const bool matrix = entries.size() > 1;
  const fs::path outputdir = detail::absolute_dir(options.outputdir);
  if (matrix) detail::remove_matrix_reports(outputdir);
  std::vector<Summary> runs;
  for (const auto& e : entries) {
    Summary s;
    if (matrix) observer.installation_started(e.label, e.pg_config);
    if (!e.error.empty()) {
      s.error = e.error;
    } else {
      Options one = options;
      one.server.pg_config = e.pg_config;
      one.installations.clear();
      try {
        s = Runner(one, observer, matrix ? e.label : "").run();
      } catch (const Error& err) {
        s.error = err.what();
      }
    }
    s.suite = options.kind == Kind::kIsolation ? "isolation" : "regress";
    s.label = e.label;
    s.pg_config = e.pg_config;
    if (s.version.empty()) s.version = e.version;
    if (matrix) observer.installation_finished(s);
    runs.push_back(std::move(s));
  }
  if (matrix) detail::write_matrix_reports(runs, outputdir);
  return runs;
}

}  // namespace pg_unit_tests::regress
