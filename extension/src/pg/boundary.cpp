#include "pg/boundary.hpp"

#include <cstdio>
#include <new>

namespace pgut::pg {
namespace {

// The exception being reported: plain storage (a backend has one thread, and the report is
// raised right after it is recorded).
struct Report {
  int sqlstate;
  char message[512];
  char hint[512];
};
Report report;

void record(int code, const char* message, const char* hint) noexcept {
  report.sqlstate = code;
  std::snprintf(report.message, sizeof report.message, "%s", message ? message : "");
  std::snprintf(report.hint, sizeof report.hint, "%s", hint ? hint : "");
}

}  // namespace

void capture_current_exception() noexcept {
  try {
    throw;
  } catch (const Error& e) {
    record(e.sqlstate(), e.what(), e.hint().c_str());
  } catch (const std::bad_alloc&) {
    record(ERRCODE_OUT_OF_MEMORY, "out of memory in pg_unit_tests", nullptr);
  } catch (const std::exception& e) {
    record(ERRCODE_INTERNAL_ERROR, e.what(), nullptr);
  } catch (...) {
    record(ERRCODE_INTERNAL_ERROR, "unknown C++ exception in pg_unit_tests", nullptr);
  }
}

void raise_captured() {
  ereport(ERROR, (errcode(report.sqlstate), errmsg("%s", report.message),
                  report.hint[0] ? errhint("%s", report.hint) : 0));
  pg_unreachable();
}

}  // namespace pgut::pg
