-- pg_unit_tests install script, part 00: the schema.
-- The install script pg_unit_tests--<version>.sql is the concatenation of extension/sql/*.sql in
-- name order; each feature owns one part. This file is the extension's public SQL API: the contract
-- between the extension and everything else (harness, users, tests).

\echo Use "CREATE EXTENSION pg_unit_tests" to load this file. \quit

COMMENT ON SCHEMA unit_tests IS 'pg_unit_tests: time control and test-data helpers';
