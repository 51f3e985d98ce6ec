// unit_tests._monotonic_seconds(): a clock that time control never touches, for the runner's
// per-test durations (clock_timestamp() follows unit_tests.freeze(), so it cannot time a test that
// freezes the clock).
#include <time.h>

#include "pg/boundary.hpp"

namespace pgut::testing {
namespace {

Datum monotonic_seconds(FunctionCallInfo) {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Float8GetDatum(static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9);
}

}  // namespace
}  // namespace pgut::testing

PGUT_SQL_FUNCTION(pgut_monotonic_seconds, pgut::testing::monotonic_seconds)
