// libpq for the CLI, which test suites run many times: loaded on the first call of a PQ*
// function, so that commands which never talk to a server do not load it.
//
// Why: Debian's libpq.so.5 brings 25 more shared libraries (OpenSSL, Kerberos, OpenLDAP, GnuTLS,
// ...), most linked with BIND_NOW and GnuTLS with a constructor; loading them costs 12.5 million
// instructions, 5 ms of CPU, in every process: three quarters of what `pg_unit_tests --version`
// cost (callgrind and perf stat, see bench/cli_startup.cpp). A static libpq does not help: it
// still needs the shared Kerberos and OpenLDAP, which bring GnuTLS.
// Why by hand: GNU ld cannot defer loading a DT_NEEDED library (Solaris' -z lazyload) and Debian
// packages no generator of such stubs (Implib.so), so each function the executables use is defined
// here with libpq-fe.h's own signature (the compiler checks it) and calls the real one, looked up
// once. The executables do not link libpq: a function missing here is a link error that names it;
// add one line below.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <string>

#include "pg_unit_tests/error.hpp"

namespace {

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;

// The library as the dynamic loader would find it (LD_LIBRARY_PATH, ld.so.cache), else where the
// build found it (a libpq outside the loader's path, which a build-tree RPATH would have named).
void* library() {
  static void* const handle = [] {
    void* h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen(PGUT_LIBPQ_LIBDIR "/libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      throw Error(ExitCode::kInstallation,
                  std::string("cannot load libpq, PostgreSQL's client library: ") + dlerror() +
                      " (install it: apt-get install libpq5)");
    }
    return h;
  }();
  return handle;
}

// The real function behind our definition Fn (one cached lookup per function).
template <auto Fn>
decltype(Fn) real(const char* name) {
  static const auto fn = [name] {
    void* p = dlsym(library(), name);
    if (!p) {
      throw Error(ExitCode::kInstallation,
                  std::string("libpq.so.5 has no ") + name + ": install a newer libpq5");
    }
    return reinterpret_cast<decltype(Fn)>(p);
  }();
  return fn;
}

}  // namespace

#define PGUT_REAL(fn) real<&fn>(#fn)

extern "C" {

PGconn* PQconnectdb(const char* conninfo) {
  return PGUT_REAL(PQconnectdb)(conninfo);
}
PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values,
                          int expand_dbname) {
  return PGUT_REAL(PQconnectdbParams)(keywords, values, expand_dbname);
}
void PQfinish(PGconn* conn) {
  PGUT_REAL(PQfinish)(conn);
}
ConnStatusType PQstatus(const PGconn* conn) {
  return PGUT_REAL(PQstatus)(conn);
}
char* PQerrorMessage(const PGconn* conn) {
  return PGUT_REAL(PQerrorMessage)(conn);
}
char* PQdb(const PGconn* conn) {
  return PGUT_REAL(PQdb)(conn);
}
PGPing PQping(const char* conninfo) {
  return PGUT_REAL(PQping)(conninfo);
}
PQconninfoOption* PQconninfoParse(const char* conninfo, char** errmsg) {
  return PGUT_REAL(PQconninfoParse)(conninfo, errmsg);
}
void PQconninfoFree(PQconninfoOption* options) {
  PGUT_REAL(PQconninfoFree)(options);
}
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  return PGUT_REAL(PQsetNoticeProcessor)(conn, proc, arg);
}

PGresult* PQexec(PGconn* conn, const char* query) {
  return PGUT_REAL(PQexec)(conn, query);
}
PGresult* PQexecParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                       const char* const* paramValues, const int* paramLengths,
                       const int* paramFormats, int resultFormat) {
  return PGUT_REAL(PQexecParams)(conn, command, nParams, paramTypes, paramValues, paramLengths,
                                 paramFormats, resultFormat);
}
ExecStatusType PQresultStatus(const PGresult* res) {
  return PGUT_REAL(PQresultStatus)(res);
}
char* PQresultErrorMessage(const PGresult* res) {
  return PGUT_REAL(PQresultErrorMessage)(res);
}
char* PQresultErrorField(const PGresult* res, int fieldcode) {
  return PGUT_REAL(PQresultErrorField)(res, fieldcode);
}
int PQntuples(const PGresult* res) {
  return PGUT_REAL(PQntuples)(res);
}
int PQnfields(const PGresult* res) {
  return PGUT_REAL(PQnfields)(res);
}
char* PQgetvalue(const PGresult* res, int tup_num, int field_num) {
  return PGUT_REAL(PQgetvalue)(res, tup_num, field_num);
}
void PQclear(PGresult* res) {
  PGUT_REAL(PQclear)(res);
}

// pq::Connection's queries that a poll loop can wait on (the database pool's).
int PQsendQuery(PGconn* conn, const char* query) {
  return PGUT_REAL(PQsendQuery)(conn, query);
}
int PQconsumeInput(PGconn* conn) {
  return PGUT_REAL(PQconsumeInput)(conn);
}
int PQisBusy(PGconn* conn) {
  return PGUT_REAL(PQisBusy)(conn);
}
PGresult* PQgetResult(PGconn* conn) {
  return PGUT_REAL(PQgetResult)(conn);
}
int PQsocket(const PGconn* conn) {
  return PGUT_REAL(PQsocket)(conn);
}

char* PQescapeLiteral(PGconn* conn, const char* str, size_t len) {
  return PGUT_REAL(PQescapeLiteral)(conn, str, len);
}
char* PQescapeIdentifier(PGconn* conn, const char* str, size_t len) {
  return PGUT_REAL(PQescapeIdentifier)(conn, str, len);
}
void PQfreemem(void* ptr) {
  PGUT_REAL(PQfreemem)(ptr);
}

}  // extern "C"
