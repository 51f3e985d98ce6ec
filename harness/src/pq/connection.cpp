#include "pq/connection.hpp"

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <vector>
#include <utility>

#include <fmt/format.h>

namespace pg_unit_tests::pq {

std::string first_line(const std::string& message) {
  std::string line = message.substr(0, message.find('\n'));
  for (const char* prefix : {"ERROR:  ", "FATAL:  "}) {
    if (line.rfind(prefix, 0) == 0) line = line.substr(8);
  }
  return line;
}

std::string one_line(const Diagnostics& d) {
  std::string text = d.primary;
  std::string more;
  for (auto [value, label] : {std::pair{&d.detail, "DETAIL: "}, std::pair{&d.hint, "HINT: "}}) {
    if (!value->empty()) more += (more.empty() ? "" : " ") + std::string(label) + *value;
  }
  if (!more.empty()) text += " (" + more + ")";
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

Diagnostics diagnostics(const PGresult* result) {
  const auto field = [result](int code) {
    const char* v = PQresultErrorField(result, code);
    return std::string(v ? v : "");
  };
  Diagnostics d;
  d.primary = field(PG_DIAG_MESSAGE_PRIMARY);
  if (d.primary.empty()) {
    d.primary = first_line(PQresultErrorMessage(result));
    return d;
  }
  d.severity = field(PG_DIAG_SEVERITY);
  d.sqlstate = field(PG_DIAG_SQLSTATE);
  d.detail = field(PG_DIAG_MESSAGE_DETAIL);
  d.hint = field(PG_DIAG_MESSAGE_HINT);
  return d;
}

std::string error_text(const PGresult* result) {
  return one_line(diagnostics(result));
}

bool server_answers(const std::string& conninfo) {
  return PQping(conninfo.c_str()) == PQPING_OK;
}

namespace {

// Throws ServerError(code) unless the result is a success.
void check(const PGresult* r, ExitCode code) {
  const auto status = PQresultStatus(r);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    throw ServerError(diagnostics(r), code);
}

}  // namespace

Connection::Connection(const std::string& conninfo, const std::string& dbname, ExitCode on_failure,
                       const std::string& application_name) {
  // Later keywords override what the expanded conninfo (the first dbname) sets.
  std::vector<const char*> keys = {"dbname"}, values = {conninfo.c_str()};
  if (!dbname.empty()) keys.push_back("dbname"), values.push_back(dbname.c_str());
  if (!application_name.empty()) {
    keys.push_back("application_name"), values.push_back(application_name.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = first_line(PQerrorMessage(conn_));
    PQfinish(std::exchange(conn_, nullptr));
    throw ConnectError(
        on_failure,
        fmt::format("cannot connect to {}: {} (is the server running? see "
                    "pg_unit_tests list)",
                    dbname.empty() ? conninfo : "database \"" + dbname + "\"", message),
        message);
  }
}

Connection::Connection(Connection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

PGconn* Connection::release() {
  return std::exchange(conn_, nullptr);
}

Rows Connection::query(const std::string& sql, const std::vector<Param>& params,
                       ExitCode error_code) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                   nullptr, nullptr, 0),
      &PQclear);
  check(r.get(), error_code);
  Rows rows;
  rows.reserve(static_cast<size_t>(PQntuples(r.get())));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    row.reserve(static_cast<size_t>(PQnfields(r.get())));
    for (int j = 0; j < PQnfields(r.get()); ++j) row.emplace_back(PQgetvalue(r.get(), i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Connection::value(const std::string& sql, const std::vector<Param>& params) {
  auto rows = query(sql, params);
  return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
}

void Connection::execute(const std::string& sql, ExitCode error_code) {
  const std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_, sql.c_str()), &PQclear);
  check(r.get(), error_code);
}

std::string Connection::database() const {
  return PQdb(conn_);
}

std::string Connection::quote_identifier(const std::string& name) const {
  char* q = PQescapeIdentifier(conn_, name.c_str(), name.size());
  if (!q) throw Error(ExitCode::kUsage, fmt::format("cannot quote the name '{}'", name));
  std::string out = q;
  PQfreemem(q);
  return out;
}

std::string Connection::quote_literal(const std::string& text) const {
  char* q = PQescapeLiteral(conn_, text.c_str(), text.size());
  if (!q) throw Error(ExitCode::kUsage, "cannot quote a literal (invalid encoding?)");
  std::string out = q;
  PQfreemem(q);
  return out;
}

void Connection::send(const std::string& sql) {
  if (!PQsendQuery(conn_, sql.c_str())) {
    throw ServerError("", first_line(PQerrorMessage(conn_)), ExitCode::kDatabase);
  }
}

bool Connection::finished() {
  if (!PQconsumeInput(conn_)) {
    throw ServerError("", first_line(PQerrorMessage(conn_)), ExitCode::kDatabase);
  }
  if (PQisBusy(conn_)) return false;
  std::optional<ServerError> failure;
  while (PGresult* r = PQgetResult(conn_)) {
    const auto status = PQresultStatus(r);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && !failure) {
      failure.emplace(diagnostics(r), ExitCode::kDatabase);
    }
    PQclear(r);
  }
  if (failure) throw *failure;
  return true;
}

int Connection::socket() const {
  return PQsocket(conn_);
}

void Connection::quiet() {
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

}  // namespace pg_unit_tests::pq
