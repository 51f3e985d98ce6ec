// See reanalyze.cpp.
#pragma once

#include "pg/postgres.hpp"

namespace pgut::clock {

// Called from post_parse_analyze_hook when the transaction timestamp was stale during analysis.
// Re-analyzes the statement (now with the mocked timestamp in place) and overwrites *query.
void reanalyze_if_time_literals(ParseState* pstate, Query* query);

}  // namespace pgut::clock
