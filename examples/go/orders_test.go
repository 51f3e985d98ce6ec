package orders_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	pgunittests "github.com/pg-unit-tests/pg_unit_tests/bindings/go"

	"example.com/orders"
)

// One server for the test binary.
func TestMain(m *testing.M) {
	os.Exit(pgunittests.Run(m, pgunittests.Options{}))
}

var migration struct {
	sync.Once
	err error
}

// database returns a fresh database for the test, a clone of the server's, which is migrated once.
func database(t *testing.T) string {
	t.Helper()
	migration.Do(func() {
		migration.err = orders.Migrate(context.Background(), pgunittests.Server(t).URI, "../migrations")
	})
	if migration.err != nil {
		t.Fatal(migration.err)
	}
	return pgunittests.Database(t)
}

func TestAnOpenOrderIsOverdueAfter30Days(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := database(t) // fresh, migrated, dropped after the test
	pool, err := orders.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	clock := pgunittests.Clock(t, dsn) // every connection to the database, the pool's included
	clock.Freeze(time.Date(2024, 1, 31, 9, 0, 0, 0, time.UTC))
	order, err := orders.Place(ctx, pool, "ada") // created_at DEFAULT now(): the frozen instant
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(30 * 24 * time.Hour)
	if overdue, err := orders.MarkOverdue(ctx, pool); err != nil || len(overdue) != 0 {
		t.Fatalf("exactly 30 days old: overdue %v, %v", overdue, err)
	}

	clock.Advance(24 * time.Hour)
	if overdue, err := orders.MarkOverdue(ctx, pool); err != nil || !slices.Equal(overdue, []int64{order}) {
		t.Fatalf("31 days old: overdue %v, %v; want [%d]", overdue, err, order)
	}
}
