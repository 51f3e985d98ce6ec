# The extension, built with PGXS. Included by the top-level Makefile before pgxs.mk.
#
# Layout: extension/sql/NN_*.sql are concatenated (in name order) into the install script;
# extension/src/**/*.cpp are the C++ sources of the shared library.

EXTVERSION := 0.1
MODULEDIR := extension
DATA := extension/pg_unit_tests.control
DATA_built := extension/pg_unit_tests--$(EXTVERSION).sql

EXT_SQL_PARTS := $(sort $(wildcard extension/sql/*.sql))
EXT_CPP := $(sort $(wildcard extension/src/*.cpp extension/src/*/*.cpp))

ifneq ($(EXT_CPP),)
MODULE_big := pg_unit_tests
OBJS := $(EXT_CPP:.cpp=.o)
SHLIB_LINK += -lstdc++
PG_CPPFLAGS += -Iextension/src
PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
endif

# JIT bitcode for our own functions buys nothing (they are called through fmgr) and would need
# the exact clang that PostgreSQL was built with.
override with_llvm := no

extension/pg_unit_tests--$(EXTVERSION).sql: $(EXT_SQL_PARTS)
	cat $^ > $@.tmp && mv $@.tmp $@
