// The one place where PostgreSQL's C headers enter C++ code.
//
// Every other file includes PostgreSQL through this header (or through boundary.hpp), so that the
// C linkage and the few macros that clash with C++ are handled once.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "pgtime.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/fmgrtab.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

// libpq/auth.h, without it: it pulls in libpq-be.h and through it the GSSAPI headers, which a
// Debian server without libkrb5-dev lacks. Only the hook is needed; Port stays opaque.
extern "C" {
struct Port;
typedef void (*ClientAuthentication_hook_type)(struct Port*, int);
extern PGDLLIMPORT ClientAuthentication_hook_type ClientAuthentication_hook;
}
