// Package pgunittests gives Go tests real PostgreSQL servers, a fresh database per test and a
// clock for every connection to it, from the pg_unit_tests command line. It uses only the
// standard library and hands out DSN strings: use them with pgx, lib/pq or database/sql.
//
//	func TestOrders(t *testing.T) {
//		t.Parallel()
//		dsn := pgunittests.Database(t) // fresh, migrated, dropped after the test
//		clock := pgunittests.Clock(t, dsn)
//		clock.Freeze(time.Date(2024, 1, 31, 9, 0, 0, 0, time.UTC))
//		...
//	}
//
// The command is $PG_UNIT_TESTS_CLI, else pg_unit_tests on PATH (Options.CLI overrides both).
package pgunittests

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options configure a server. Every field is optional.
type Options struct {
	// TCP also listens on 127.0.0.1 on a free port, with a random password.
	TCP bool
	// Init: SQL files or directories of them (applied in name order) that migrate the server's
	// database, once per change of their content.
	Init []string
	// InitCommand: a migration command run once per change, with DATABASE_URL and PG* set.
	InitCommand string
	// InitKey: the files or directories InitCommand reads (its migrations): their content decides
	// when it runs again.
	InitKey []string
	// Extensions: PGXS extensions to serve from their build trees.
	Extensions []string
	// Create: CREATE EXTENSION these in the server's database.
	Create []string
	// Settings: server settings, as in postgresql.conf.
	Settings map[string]string
	// PGConfig: pg_config of the PostgreSQL installation to use.
	PGConfig string
	// CLI: the pg_unit_tests command (default: $PG_UNIT_TESTS_CLI, then PATH).
	CLI string
	// Keep: do not tie the server to this process; it runs until Stop (or the CLI's idle timeout).
	Keep bool
}

// Instance is a running server.
type Instance struct {
	URI       string // a libpq URI: the DSN of the server's own database
	Host      string // a socket directory, or 127.0.0.1 with TCP
	Port      int
	User      string
	Password  string // empty unless TCP
	Database  string
	ID        string
	Directory string
	Version   string
	cli       string
}

// Start starts a server. It stops with Stop, and when this process exits, however it exits.
func Start(ctx context.Context, o Options) (*Instance, error) {
	cli, err := findCLI(o.CLI)
	if err != nil {
		return nil, err
	}
	owner := os.Getpid()
	if o.Keep {
		owner = 0
	}
	info, err := cliStart(ctx, cli, o, owner)
	if err != nil {
		return nil, err
	}
	return &Instance{
		URI: info.URI, Host: info.Host, Port: info.Port, User: info.User, Password: info.Password,
		Database: info.Database, ID: info.ID, Directory: info.Directory, Version: info.Version, cli: cli,
	}, nil
}

// Stop stops the server now and removes its files.
func (s *Instance) Stop() error {
	return cliStop(context.Background(), s.cli, s.URI)
}

// CreateDatabase returns the DSN of a fresh database on the server, cloned from template (empty:
// the server's migrated database). It goes with this process if not before.
func (s *Instance) CreateDatabase(ctx context.Context, template string) (string, error) {
	return s.createDatabase(ctx, template, "")
}

func (s *Instance) createDatabase(ctx context.Context, template, label string) (string, error) {
	return cliCreatedb(ctx, s.cli, s.URI, template, label, os.Getpid())
}

// DropDatabase drops a database that CreateDatabase handed out, ending its sessions.
func (s *Instance) DropDatabase(ctx context.Context, dsn string) error {
	return cliDropdb(ctx, s.cli, dsn)
}

// Env returns PGHOST, PGPORT, PGUSER, PGPASSWORD (with TCP), PGDATABASE and DATABASE_URL for the
// database of dsn on this server (empty: the server's own), as "NAME=value" for exec.Cmd.Env.
func (s *Instance) Env(dsn string) []string {
	database := s.Database
	if dsn == "" {
		dsn = s.URI
	} else if u, err := url.Parse(dsn); err == nil && u.Path != "" {
		database = strings.TrimPrefix(u.Path, "/")
	}
	env := []string{"PGHOST=" + s.Host, "PGPORT=" + strconv.Itoa(s.Port), "PGUSER=" + s.User,
		"PGDATABASE=" + database, "DATABASE_URL=" + dsn}
	if s.Password != "" {
		env = append(env, "PGPASSWORD="+s.Password)
	}
	return env
}

// DatabaseClock is the clock of every session of one database, existing and new, from their next
// statement on: the application's connection pool follows it too. Its methods return errors;
// in tests, Clock(t, dsn) fails the test instead.
type DatabaseClock struct {
	DSN string
	CLI string // default: $PG_UNIT_TESTS_CLI, then PATH
}

func (c DatabaseClock) set(ctx context.Context, action string, value ...string) error {
	cli, err := findCLI(c.CLI)
	if err != nil {
		return err
	}
	return cliClock(ctx, cli, c.DSN, action, value...)
}

// Freeze makes time stand still at at.
func (c DatabaseClock) Freeze(ctx context.Context, at time.Time) error {
	return c.set(ctx, "freeze", at.UTC().Format(time.RFC3339Nano))
}

// Travel jumps to "to"; the clock keeps running from there.
func (c DatabaseClock) Travel(ctx context.Context, to time.Time) error {
	return c.set(ctx, "travel", to.UTC().Format(time.RFC3339Nano))
}

// Advance moves a frozen or travelled clock by d (elapsed time).
func (c DatabaseClock) Advance(ctx context.Context, d time.Duration) error {
	return c.set(ctx, "advance", interval(d))
}

// AdvanceInterval moves the clock by a PostgreSQL interval ("1 month": calendar arithmetic).
func (c DatabaseClock) AdvanceInterval(ctx context.Context, pgInterval string) error {
	return c.set(ctx, "advance", pgInterval)
}

// Release returns every session of the database to real time.
func (c DatabaseClock) Release(ctx context.Context) error {
	return c.set(ctx, "release")
}

// interval writes d as seconds with microseconds, PostgreSQL's precision.
func interval(d time.Duration) string {
	us := d.Microseconds()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return fmt.Sprintf("%s%d.%06d seconds", sign, us/1e6, us%1e6)
}
