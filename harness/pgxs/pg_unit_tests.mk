# pg_unit_tests.mk: a working `make check` for any PGXS extension, through `pg_unit_tests` (an
# ephemeral server per run, the extension served from this build, nothing installed into
# PostgreSQL, root is fine).
#
# Include it after PGXS in the extension's Makefile:
#
#   PG_CONFIG ?= pg_config
#   PGXS := $(shell $(PG_CONFIG) --pgxs)
#   include $(PGXS)
#   include /usr/local/share/pg_unit_tests/pg_unit_tests.mk   # where `make install` put it
#
# or leave the Makefile alone: make -f Makefile -f /usr/local/share/pg_unit_tests/pg_unit_tests.mk check
#
# `make check` is the extension's own `installcheck` (its prerequisites included: generated
# schedules, files built for the tests, a `make install` some of them do) with PGXS's three test
# runners replaced, as an in-tree `make check` runs them: REGRESS through `pg_unit_tests regress`,
# then ISOLATION through `pg_unit_tests regress --isolation`, then TAP_TESTS through `pg_unit_tests
# regress --tap-tests`. Around it:
#   - `pg_unit_tests exec` gives the prerequisites a running server (PGHOST, PGPORT ...), as
#     installcheck assumes one: a Makefile that asks it for max_connections gets a sensible answer;
#   - DESTDIR points at tmp_install/, private to the run and removed afterwards, so any `make
#     install` goes there, never into PostgreSQL's directories. It starts with copies of the
#     installation's extension control files, for Makefiles that check what is installed;
#   - NO_INSTALLCHECK is cleared: it keeps suites that need their own server settings (test_decoding:
#     wal_level = logical) out of installcheck on a shared server; every run here has its own.
# `make pgut-check` is the same under its own name. Why two: pgxs.mk defines `check` itself (it
# prints '"make check" is not supported'), and GNU make can only replace that recipe with a second
# one, which makes it print "warning: overriding recipe for target 'check'". This file replaces
# it only when `check` is on the command line, so other make runs print nothing; set
# PGUT_OVERRIDE_CHECK=no to keep PGXS's target and use `make pgut-check` alone.
#
# Settings (all optional):
#   PG_CONFIGS           a version matrix: the pg_config of each PostgreSQL installation to run the
#                        suites on, separated by spaces or colons; each gets the extension built
#                        for it and its own psql (default: PG_CONFIG alone)
#   PG_UNIT_TESTS        the command (default: pg_unit_tests on PATH)
#   PGUT_EXTENSION       the extension directory to serve (default: this directory; empty: none)
#   PGUT_REGRESS_OPTS    more options for the REGRESS run: --jobs=2, --tap, --junit=junit.xml ...
#   PGUT_ISOLATION_OPTS  more options for the ISOLATION run (its own report files, for instance)

ifndef pgut_mk_included
pgut_mk_included := yes

PG_UNIT_TESTS ?= pg_unit_tests
PG_CONFIGS ?=
PGUT_EXTENSION ?= $(CURDIR)
PGUT_REGRESS_OPTS ?=
PGUT_ISOLATION_OPTS ?=
PGUT_OVERRIDE_CHECK ?= yes

# PG_CONFIG is often a bare name ("pg_config"); the harness wants a path.
pgut_path = $(firstword $(shell command -v $(1) 2>/dev/null) $(1))
pgut_pg_config = $(call pgut_path,$(PG_CONFIG))
pgut_destdir = $(CURDIR)/tmp_install

# The harness runs `make` and `make install DESTDIR=...` in PGUT_EXTENSION (skipped when nothing
# changed); this make's jobserver, flags and DESTDIR must not leak into those runs.
pgut_env = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u DESTDIR
pgut_server_opts = --pg-config='$(pgut_pg_config)' \
  $(if $(PGUT_EXTENSION),--extension='$(PGUT_EXTENSION)')
# The runners' installations: PGXS's (and its psql) alone, or each of PG_CONFIGS with its own.
pgut_runner_opts = $(if $(strip $(PG_CONFIGS)),$(foreach p,$(subst :, ,$(PG_CONFIGS)),\
  --pg-config='$(call pgut_path,$(p))'),--pg-config='$(pgut_pg_config)' --bindir='$(bindir)') \
  $(if $(PGUT_EXTENSION),--extension='$(PGUT_EXTENSION)')

# The runners, as PGXS's installcheck recipe calls them (it appends REGRESS_OPTS and REGRESS,
# ISOLATION_OPTS and ISOLATION). TEMP_CONFIG is honoured as by an in-tree check.
pgut_regress = $(pgut_env) $(PG_UNIT_TESTS) regress --inputdir=$(srcdir) $(pgut_runner_opts) \
  $(TEMP_CONF) $(pg_regress_locale_flags) $(EXTRA_REGRESS_OPTS) $(PGUT_REGRESS_OPTS)
pgut_isolation = $(pgut_env) $(PG_UNIT_TESTS) regress --isolation --inputdir=$(srcdir) \
  --outputdir=output_iso $(pgut_runner_opts) $(TEMP_CONF) $(pg_regress_locale_flags) \
  $(EXTRA_REGRESS_OPTS) $(PGUT_ISOLATION_OPTS)
pgut_prove = $(pgut_env) $(PG_UNIT_TESTS) regress --tap-tests --inputdir=$(srcdir) \
  --outputdir='$(CURDIR)' $(pgut_runner_opts) -- $(or $(PROVE),prove) $(PG_PROVE_FLAGS) \
  $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),t/*.pl)

.PHONY: pgut-check
ifneq ($(strip $(REGRESS)$(ISOLATION)$(TAP_TESTS)),)
pgut-check: all
	@rm -rf '$(pgut_destdir)' && $(MKDIR_P) '$(pgut_destdir)$(datadir)/extension' && \
	  { cp -p '$(datadir)'/extension/*.control '$(pgut_destdir)$(datadir)/extension/' 2>/dev/null \
	    || true; }
	@$(pgut_env) $(PG_UNIT_TESTS) exec $(pgut_server_opts) -- \
	  $(MAKE) -f $(firstword $(MAKEFILE_LIST)) installcheck NO_INSTALLCHECK= \
	  DESTDIR='$(pgut_destdir)' pg_regress_installcheck="$(pgut_regress)" \
	  pg_isolation_regress_installcheck="$(pgut_isolation)" prove_installcheck="$(pgut_prove)"; \
	  status=$$?; rm -rf '$(pgut_destdir)'; exit $$status
else
pgut-check:
	@echo 'pgut-check: REGRESS, ISOLATION and TAP_TESTS are empty: no tests to run'
endif

ifeq ($(PGUT_OVERRIDE_CHECK),yes)
ifneq ($(filter check,$(MAKECMDGOALS)),)
check: pgut-check
	@:
endif
endif

endif # pgut_mk_included
