# pg_unit_tests: one Makefile for the whole project.
#
#   make            build the extension (PGXS), the harness library and the CLI (CMake, in build/)
#   make install    install the extension into PostgreSQL (PGXS) and the CLI under PREFIX
#   make demo       install missing packages, build, and run the demo on an ephemeral server
#   make test       install missing packages, build, and run every test; the extension's suites on
#                   every installation in PG_CONFIGS (a list of pg_config paths; default PG_CONFIG)
#
# The extension part is plain PGXS; the harness is driven through CMake from here.

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -n 1)
PG_CONFIGS ?= $(PG_CONFIG)
PREFIX ?= /usr/local
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE ?= cmake
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.DEFAULT_GOAL := all

# The source tree: empty when make runs here; its path when the extension is built in another
# directory with `make -f SRC/Makefile HARNESS=no` (PGXS's VPATH build: the harness builds the
# extension that way for each PostgreSQL installation other than the one built here).
PGUT_TOP := $(patsubst ./,,$(dir $(firstword $(MAKEFILE_LIST))))

include $(PGUT_TOP)extension/extension.mk

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

# The installation the objects are built for (PGXS's bindir and VERSION): when PG_CONFIG names
# another one, this file changes and every object is rebuilt. The library's own copy,
# extension/.built-for, is what the harness reads to serve this build only to that installation.
EXT_PG_CONFIG_STAMP := extension/src/.pg-config
ext_installation := bindir=$(bindir) version=$(VERSION)
ifneq ($(shell cat $(EXT_PG_CONFIG_STAMP) 2>/dev/null),$(ext_installation))
$(shell mkdir -p $(dir $(EXT_PG_CONFIG_STAMP)) && echo '$(ext_installation)' > $(EXT_PG_CONFIG_STAMP))
endif
$(OBJS): $(EXT_PG_CONFIG_STAMP)
extension/.built-for: $(shlib) $(DATA_built)
	cp $(EXT_PG_CONFIG_STAMP) $@
all extension: extension/.built-for
EXTRA_CLEAN += $(EXT_PG_CONFIG_STAMP) extension/.built-for

ifneq ($(PGUT_TOP),)
# In a build directory, only sources come from the source tree, by their full paths: its objects
# and scripts (built for another installation) must never stand in for this build's.
VPATH :=
$(shell mkdir -p $(sort $(dir $(OBJS) $(DATA_built))))
extension/src/%.o: $(PGUT_TOP)extension/src/%.cpp
	$(COMPILE.cc) $(OUTPUT_OPTION) $<
endif
else
all install:
	@echo "make: PostgreSQL's PGXS was not found through '$(PG_CONFIG)': run scripts/install-deps.sh (or 'make demo' / 'make test', which do), or set PG_CONFIG" >&2
	@exit 2
endif

.PHONY: all install extension harness install-harness deps demo test check-harness check-sanitize check-regress check-regress-on check-bindings print-pg-config lint format

# --- the harness (library, CLI, tests, benchmarks) --------------------------------------------
# HARNESS=no builds and installs the extension alone (plain PGXS).
ifneq ($(HARNESS),no)
all: harness
install: install-harness
endif

extension: $(DATA_built) $(if $(MODULE_big),all-lib)

$(BUILD_DIR)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPG_CONFIG=$(PG_CONFIG) \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

harness: $(BUILD_DIR)/CMakeCache.txt
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS)
	@ln -sfn $(BUILD_DIR)/bin/pg_unit_tests pg_unit_tests

install-harness: harness
	DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD_DIR)

# --- the two commands of README.md ------------------------------------------------------------
deps:
	scripts/install-deps.sh

demo: deps
	$(MAKE) all
	examples/demo.sh

test: deps
	$(MAKE) all
	PG_CONFIGS='$(PG_CONFIGS)' scripts/run-tests.sh

# --- the pieces `make test` runs --------------------------------------------------------------
check-harness: harness
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The extension's pg_regress suite through `pg_unit_tests regress` (harness/pgxs/pg_unit_tests.mk,
# the include any PGXS extension can use): an ephemeral server with the extension served from the
# build tree, preloaded, time control on.
PG_UNIT_TESTS := ./pg_unit_tests
PGUT_EXTENSION :=
include $(PGUT_TOP)harness/pgxs/pg_unit_tests.mk
check-regress: pgut-check
# The tree's own installation only: `make test` runs the other installations of PG_CONFIGS itself
# (check-regress-on), and PG_CONFIGS from its command line or environment would make this a matrix.
check-regress: override PG_CONFIGS :=

# The same suite on another installation, the build tree left as it is (the harness serves the
# extension built for that installation): make check-regress-on ON_PG_CONFIG=PATH.
check-regress-on: all
	$(PG_UNIT_TESTS) regress --inputdir=./ --pg-config='$(ON_PG_CONFIG)' $(REGRESS_OPTS) $(REGRESS)

check-sanitize: $(BUILD_DIR)/CMakeCache.txt
	$(CMAKE) -S . -B $(BUILD_DIR)-asan -DCMAKE_BUILD_TYPE=Debug -DPGUT_SANITIZE=ON -DPGUT_BENCH=OFF \
	  -DPG_CONFIG=$(PG_CONFIG) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
	$(CMAKE) --build $(BUILD_DIR)-asan -j $(JOBS)
	cd $(BUILD_DIR)-asan && ctest --output-on-failure -j $(JOBS)

# The Python, Node, Go and Java packages (bindings/) and their examples, with their own runners;
# `make check-bindings-python` (node, go, java) runs one.
check-bindings: harness
	bindings/check.sh
check-bindings-%: harness
	bindings/check.sh $*

# The installation the tree is built for (scripts/run-tests.sh).
print-pg-config:
	@echo '$(PG_CONFIG)'

lint: harness
	scripts/lint.sh $(BUILD_DIR)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean: clean-harness
clean-harness:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-asan pg_unit_tests
