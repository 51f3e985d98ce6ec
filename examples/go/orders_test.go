package orders_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	pgunittests "github.com/pg-unit-tests/pg_unit_tests/bindings/go"

	"example.com/orders"
)

// One server for the test binary, migrated once.
func TestMain(m *testing.M) {
	os.Exit(pgunittests.Run(m, pgunittests.Options{Init: []string{"../migrations"}}))
}

func TestAnOpenOrderIsOverdueAfter30Days(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgunittests.Database(t) // fresh, migrated, dropped after the test
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
