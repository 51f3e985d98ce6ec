# pg_unit_tests.mk: a working `make check` for any PGXS extension, through `pg_unit_tests regress`
# (an ephemeral server, the extension served from this build, nothing installed, root is fine).
#
# Include it after PGXS in the extension's Makefile:
#
#   PG_CONFIG ?= pg_config
#   PGXS := $(shell $(PG_CONFIG) --pgxs)
#   include $(PGXS)
#   include /usr/local/share/pg_unit_tests/pg_unit_tests.mk   # where `make install` put it
#
# Then `make check` runs $(REGRESS) with $(REGRESS_OPTS) (and EXTRA_REGRESS_OPTS, ENCODING,
# NO_LOCALE, as installcheck would), and `make pgut-check` does the same under its own name.
#
# Why two names: pgxs.mk defines `check` itself (it prints '"make check" is not supported'), and
# GNU make can only replace that recipe with a second one, which makes it print "warning:
# overriding recipe for target 'check'". This file replaces it only when `check` is on the command
# line, so other make runs print nothing; set PGUT_OVERRIDE_CHECK=no to keep PGXS's target and use
# `make pgut-check` alone.
#
# Settings (all optional):
#   PG_UNIT_TESTS        the command (default: pg_unit_tests on PATH)
#   PGUT_EXTENSION       the extension directory to serve (default: this directory; empty: none)
#   PGUT_REGRESS_OPTS    more options: --jobs=2, --tap, --junit=junit.xml, --freeze=..., -o '-c x=y'

PG_UNIT_TESTS ?= pg_unit_tests
PGUT_EXTENSION ?= $(CURDIR)
PGUT_REGRESS_OPTS ?=
PGUT_OVERRIDE_CHECK ?= yes

# PG_CONFIG is often a bare name ("pg_config"); the harness wants a path.
pgut_pg_config = $(firstword $(shell command -v $(PG_CONFIG) 2>/dev/null) $(PG_CONFIG))

# The harness runs `make` and `make install DESTDIR=...` in PGUT_EXTENSION (skipped when nothing
# changed); a parent make's jobserver and flags must not leak into those runs.
pgut_regress = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(PG_UNIT_TESTS) regress \
  --inputdir=./ --bindir='$(bindir)' --pg-config='$(pgut_pg_config)' \
  $(if $(PGUT_EXTENSION),--extension='$(PGUT_EXTENSION)') \
  $(pg_regress_locale_flags) $(EXTRA_REGRESS_OPTS) $(REGRESS_OPTS) $(PGUT_REGRESS_OPTS) $(REGRESS)

.PHONY: pgut-check
pgut-check: all $(REGRESS_PREP)
ifdef REGRESS
	$(pgut_regress)
else
	@echo 'pgut-check: REGRESS is empty, no tests to run'
endif

ifeq ($(PGUT_OVERRIDE_CHECK),yes)
ifneq ($(filter check,$(MAKECMDGOALS)),)
check: pgut-check
	@:
endif
endif
