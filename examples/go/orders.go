// Package orders is the application: it talks to PostgreSQL through its own connection pool.
package orders

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Connect opens the application's pool.
func Connect(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	config, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	config.MinConns = 2 // kept open: a clock set on a test's own connection would not reach them
	config.MaxConns = 4
	return pgxpool.NewWithConfig(ctx, config)
}

// Place records an order; the database stamps created_at.
func Place(ctx context.Context, pool *pgxpool.Pool, customer string) (int64, error) {
	var id int64
	err := pool.QueryRow(ctx, "INSERT INTO orders (customer) VALUES ($1) RETURNING id", customer).Scan(&id)
	return id, err
}

// MarkOverdue marks open orders older than 30 days overdue and returns their ids.
func MarkOverdue(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	rows, err := pool.Query(ctx, "SELECT id FROM mark_overdue_orders() AS id ORDER BY id")
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
