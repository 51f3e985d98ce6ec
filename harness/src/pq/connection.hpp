// The harness's one libpq wrapper: a connection owned by an object, statements with parameters,
// and errors as pg_unit_tests::Error with the server's message on one line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_unit_tests/error.hpp"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace pg_unit_tests::pq {

// What the server said about a statement it refused (libpq's PQresultErrorField). A failure libpq
// noticed itself (a lost connection) has only `primary`: the first line of libpq's message.
struct Diagnostics {
  std::string severity, sqlstate, primary, detail, hint;
};

// "primary (DETAIL: ... HINT: ...)" on one line.
std::string one_line(const Diagnostics& d);

// A statement the server refused: its SQLSTATE, and its message with DETAIL and HINT on one line
// (what()); the parts in `diagnostics` for callers that word it their own way.
struct ServerError : Error {
  // What libpq said without a result (a lost connection): the message is the primary part, so
  // that callers reading `diagnostics` see it too.
  ServerError(std::string state, const std::string& message, ExitCode code)
      : ServerError(Diagnostics{"", std::move(state), message, "", ""}, code) {}
  ServerError(const Diagnostics& d, ExitCode code)
      : Error(code, one_line(d)), sqlstate(d.sqlstate), diagnostics(d) {}
  std::string sqlstate;
  Diagnostics diagnostics;
};

// A connection that could not be made: what() is the harness's sentence, `reason` libpq's first
// line alone.
struct ConnectError : Error {
  ConnectError(ExitCode code, const std::string& message, std::string why)
      : Error(code, message), reason(std::move(why)) {}
  std::string reason;
};

using Rows = std::vector<std::vector<std::string>>;
// A statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;

class Connection {
 public:
  // Connects with a URI or keyword/value string; a non-empty `dbname` replaces its database.
  // Failure throws ConnectError(on_failure) with libpq's first line.
  explicit Connection(const std::string& conninfo, const std::string& dbname = {},
                      ExitCode on_failure = ExitCode::kNoSuchServer,
                      const std::string& application_name = {});
  explicit Connection(PGconn* adopted) : conn_(adopted) {}
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  PGconn* get() const { return conn_; }
  PGconn* release();

  // Runs sql with $1.. parameters; the rows as text (NULL as ""). A refusal throws
  // ServerError(error_code).
  Rows query(const std::string& sql, const std::vector<Param>& params = {},
             ExitCode error_code = ExitCode::kDatabase);
  // The first column of the first row (empty without rows).
  std::string value(const std::string& sql, const std::vector<Param>& params = {});
  // Runs one or more statements separated by semicolons (the simple query protocol: no
  // parameters). A refusal throws ServerError(error_code).
  void execute(const std::string& sql, ExitCode error_code = ExitCode::kDatabase);

  // The database this connection is in.
  std::string database() const;

  std::string quote_identifier(const std::string& name) const;
  std::string quote_literal(const std::string& text) const;

  // Asynchronous use (one statement at a time, for a poll loop): send() starts a statement
  // without parameters; once socket() is readable, finished() reads what arrived and is true when
  // the statement has completed, throwing ServerError(kDatabase) if it failed.
  void send(const std::string& sql);
  bool finished();
  int socket() const;

  // NOTICEs and WARNINGs are not printed (set-up statements' "already exists, skipping").
  void quiet();

 private:
  PGconn* conn_ = nullptr;
};

// Whether a server answers at `conninfo` and would accept connections (PQping): a server that
// refuses one connection (no such database, authentication) still answers.
bool server_answers(const std::string& conninfo);

// What a failed result says (see Diagnostics).
Diagnostics diagnostics(const PGresult* result);
// The message of a failed result on one line: "primary (DETAIL: ... HINT: ...)".
std::string error_text(const PGresult* result);
// The first line of a libpq message, without its "ERROR:  " or "FATAL:  " prefix.
std::string first_line(const std::string& message);

}  // namespace pg_unit_tests::pq
