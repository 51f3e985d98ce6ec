// PL/pgSQL's header (for its instrumentation plugin interface), with C linkage.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "plpgsql.h"
}
