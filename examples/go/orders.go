// Package orders is the application: it talks to PostgreSQL through its own connection pool.
package orders

import (
	"context"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrate applies the schema (the .sql files of dir in name order), as the application does at
// deploy.
func Migrate(ctx context.Context, databaseURL, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sql")) // sorted
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, file := range files {
		sql, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil { // no arguments: one simple query
			return err
		}
	}
	return nil
}

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
