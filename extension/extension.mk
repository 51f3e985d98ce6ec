# The extension, built with PGXS. Included by the top-level Makefile before pgxs.mk.
#
# Layout: extension/sql/NN_*.sql are concatenated (in name order) into the install script;
# extension/src/**/*.cpp are the C++ sources of the shared library.
#
# PGUT_TOP is the source tree: empty when make runs in it, its path (with a slash) in a separate
# build directory (make -f SRC/Makefile), where outputs are written instead (see the Makefile).

EXTVERSION := 0.1
MODULEDIR := extension
DATA := extension/pg_unit_tests.control
DATA_built := extension/pg_unit_tests--$(EXTVERSION).sql

EXT_SQL_PARTS := $(sort $(wildcard $(PGUT_TOP)extension/sql/*.sql))
EXT_CPP_SOURCES := $(sort $(wildcard $(PGUT_TOP)extension/src/*.cpp $(PGUT_TOP)extension/src/*/*.cpp))
EXT_CPP := $(patsubst $(PGUT_TOP)%,%,$(EXT_CPP_SOURCES))

ifneq ($(EXT_CPP),)
MODULE_big := pg_unit_tests
OBJS := $(EXT_CPP:.cpp=.o)
SHLIB_LINK += -lstdc++
PG_CPPFLAGS += -I$(PGUT_TOP)extension/src
# -Wno-register: PostgreSQL 15 headers (s_lock.h, atomics) use the C register keyword.
PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
# Header dependencies (PGXS tracks them only in PostgreSQL builds configured with --enable-depend).
PG_CXXFLAGS += -MMD -MP
EXTRA_CLEAN += $(OBJS:.o=.d)
-include $(OBJS:.o=.d)

# The C++/PostgreSQL boundary is a build rule, not only a convention: no object is compiled while a
# file outside extension/src/pg/ includes a PostgreSQL header (order-only: the check reruns when a
# source changes, and passing it rebuilds nothing).
EXT_BOUNDARY_STAMP := extension/src/.boundary-checked
$(EXT_BOUNDARY_STAMP): $(EXT_CPP_SOURCES) $(wildcard $(PGUT_TOP)extension/src/*.hpp $(PGUT_TOP)extension/src/*/*.hpp) $(PGUT_TOP)scripts/check-boundary.sh
	$(PGUT_TOP)scripts/check-boundary.sh '$(PG_CONFIG)'
	@touch $@
$(OBJS): | $(EXT_BOUNDARY_STAMP)
EXTRA_CLEAN += $(EXT_BOUNDARY_STAMP)
endif

# JIT bitcode for our own functions buys nothing (they are called through fmgr) and would need
# the exact clang that PostgreSQL was built with.
override with_llvm := no

extension/pg_unit_tests--$(EXTVERSION).sql: $(EXT_SQL_PARTS)
	cat $^ > $@.tmp && mv $@.tmp $@

# The extension's pg_regress suite (sql/, expected/). It needs a server started with
# shared_preload_libraries = 'pg_unit_tests' and pg_unit_tests.time_control = on; the harness runs
# it on such a server, `make installcheck` runs it on the server PG* points at.
REGRESS := time_api time_clocks time_literals time_objects time_semantics time_security time_shared time_zones \
  search_path snapshot snapshot_names snapshot_privacy runner security
REGRESS_OPTS := --inputdir=.

# What clang-tidy needs to parse the extension's C++ (scripts/lint.sh): include paths, macros and
# the language standard, without GCC's own warning options.
.PHONY: print-extension-tidy-flags
print-extension-tidy-flags:
	@echo $(filter -I% -D% -std=% -Wno-register,$(CPPFLAGS) $(CXXFLAGS))
