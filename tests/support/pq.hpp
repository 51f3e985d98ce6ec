// A small libpq wrapper for tests: connect, run a statement, read one value.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_support {

class Connection {
 public:
  explicit Connection(const std::string& conninfo)
      : conn_(PQconnectdb(conninfo.c_str()), &PQfinish) {}
  bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_.get()); }
  PGconn* get() const { return conn_.get(); }

  // The first column of the first row; throws with the server's message on error.
  std::string value(const std::string& sql) const {
    auto rows = query(sql);
    if (rows.empty() || rows[0].empty()) return {};
    return rows[0][0];
  }
  std::vector<std::vector<std::string>> query(const std::string& sql) const {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_.get(), sql.c_str()), &PQclear);
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      throw std::runtime_error(PQresultErrorMessage(r.get()));
    }
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r.get()); ++j) row.emplace_back(PQgetvalue(r.get(), i, j));
      out.push_back(std::move(row));
    }
    return out;
  }
  // The error message of a statement that must fail (empty if it succeeded).
  std::string error_of(const std::string& sql) const {
    try {
      query(sql);
      return {};
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

}  // namespace test_support
