module github.com/pg-unit-tests/pg_unit_tests/bindings/go

go 1.21

require github.com/lib/pq v1.12.3
