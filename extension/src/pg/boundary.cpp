#include "pg/boundary.hpp"

#include <cstdio>

namespace pgut::pg {

void Report::set(int code, const char* msg, const char* hint_text) noexcept {
  sqlstate = code;
  std::snprintf(message, sizeof message, "%s", msg ? msg : "");
  std::snprintf(hint, sizeof hint, "%s", hint_text ? hint_text : "");
}

void raise(const Report& report) {
  if (report.pg_error != nullptr) ReThrowError(report.pg_error);
  ereport(ERROR, (errcode(report.sqlstate), errmsg("%s", report.message),
                  report.hint[0] ? errhint("%s", report.hint) : 0));
  pg_unreachable();
}

}  // namespace pgut::pg
