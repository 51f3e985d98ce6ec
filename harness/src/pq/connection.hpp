// The harness's one libpq wrapper: a connection owned by an object, statements with parameters,
// and errors as pg_unit_tests::Error with the server's message on one line.
#pragma once

#include <string>
#include <vector>

#include "pg_unit_tests/error.hpp"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace pg_unit_tests::pq {

// A statement the server refused: its SQLSTATE, and its message with DETAIL and HINT on one line.
struct ServerError : Error {
  ServerError(std::string state, const std::string& message, ExitCode code)
      : Error(code, message), sqlstate(std::move(state)) {}
  std::string sqlstate;
};

using Rows = std::vector<std::vector<std::string>>;

class Connection {
 public:
  // Connects with a URI or keyword/value string; a non-empty `dbname` replaces its database.
  // Failure throws Error(on_failure) with libpq's first line, prefixed by `what` when given.
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

  // Runs sql with $1.. parameters; the rows as text. A refusal throws ServerError(error_code).
  Rows query(const std::string& sql, const std::vector<std::string>& params = {},
             ExitCode error_code = ExitCode::kDatabase);
  // The first column of the first row (empty without rows).
  std::string value(const std::string& sql, const std::vector<std::string>& params = {});

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

// The message of a failed result on one line: "primary (DETAIL: ... HINT: ...)".
std::string error_text(const PGresult* result);
// The first line of a libpq message, without its "ERROR:  " or "FATAL:  " prefix.
std::string first_line(const std::string& message);

}  // namespace pg_unit_tests::pq
