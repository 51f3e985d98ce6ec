package pgunittests_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	pgunittests "github.com/pg-unit-tests/pg_unit_tests/bindings/go"
)

func TestMain(m *testing.M) {
	os.Exit(pgunittests.Run(m, pgunittests.Options{Settings: map[string]string{"work_mem": "7MB"}}))
}

// connect opens a database/sql pool (lib/pq) on dsn, closed when the test ends.
func connect(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func scalar[T any](t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) T {
	t.Helper()
	var v T
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// eventually reports whether check becomes true within 20 s: for what the harness does in the
// background (a keeper removing a server's files, an asynchronous DROP DATABASE).
func eventually(check func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// The tests stay out of the server's own database: it is the template of every Database(t).

func TestRunConfiguresTheSharedServer(t *testing.T) {
	conn := connect(t, pgunittests.Database(t))
	if got := scalar[string](t, conn, "show work_mem"); got != "7MB" {
		t.Fatalf("work_mem = %q", got)
	}
}

func TestDatabasesAreFreshUnderParallelTests(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				conn := connect(t, pgunittests.Database(t))
				if scalar[bool](t, conn, "select to_regclass('orders') is not null") {
					t.Fatal("a fresh database already has the table of another test")
				}
				if _, err := conn.Exec("create table orders (id int)"); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[scalar[string](t, conn, "select current_database()")] = true
				mu.Unlock()
			})
		}
	})
	if len(names) != 4 {
		t.Fatalf("4 tests got %d databases", len(names))
	}
	server := connect(t, pgunittests.Database(t))
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	if !eventually(func() bool {
		return scalar[int](t, server, "select count(*)::int from pg_database where datname = any($1)", pq.Array(list)) == 0
	}) {
		t.Fatal("the tests' databases were not dropped")
	}
}

func TestStartStopOverTCPWithEnv(t *testing.T) {
	s, err := pgunittests.Start(context.Background(), pgunittests.Options{TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Host != "127.0.0.1" || s.Password == "" || s.Port == 0 {
		t.Fatalf("not a TCP server: %+v", s)
	}
	dsn, err := s.CreateDatabase(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("psql", "-Atc", "select current_user || ' ' || current_database()")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, s.Env(dsn)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres " + strings.TrimPrefix(dsn[strings.LastIndex(dsn, "/"):], "/"); strings.TrimSpace(string(out)) != want {
		t.Fatalf("psql with Env: %q, want %q", out, want)
	}
	if err := s.DropDatabase(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { _, err := os.Stat(s.Directory); return os.IsNotExist(err) }) {
		t.Fatalf("%s is still there", s.Directory)
	}
}

func TestCLIFailureIsAnErrorWithItsLineAndExitCode(t *testing.T) {
	_, err := pgunittests.Start(context.Background(), pgunittests.Options{Settings: map[string]string{"no_such_setting": "1"}})
	var e *pgunittests.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *pgunittests.Error, got %v", err)
	}
	if e.ExitCode != 4 || !strings.Contains(e.Message, `unrecognized configuration parameter "no_such_setting"`) ||
		strings.Contains(e.Message, "\n") {
		t.Fatalf("got %q, exit code %d", e.Message, e.ExitCode)
	}
}

func TestMissingCLINamesTheVariable(t *testing.T) {
	t.Setenv("PG_UNIT_TESTS_CLI", "/nonexistent/pg_unit_tests")
	_, err := pgunittests.Start(context.Background(), pgunittests.Options{})
	var e *pgunittests.Error
	if !errors.As(err, &e) || e.ExitCode != 127 || !strings.Contains(e.Message, "PG_UNIT_TESTS_CLI") {
		t.Fatalf("got %v", err)
	}
}

func TestServerDiesWithItsOwnerEvenBySIGKILL(t *testing.T) {
	if os.Getenv("PGUT_OWNER_CHILD") == "1" {
		s, err := pgunittests.Start(context.Background(), pgunittests.Options{})
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(s.Directory + "\n")
		time.Sleep(2 * time.Minute)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsOwnerEvenBySIGKILL$")
	cmd.Env = append(os.Environ(), "PGUT_OWNER_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := out.Read(buf)
	directory := strings.TrimSpace(string(buf[:n]))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if directory == "" {
		t.Fatal("the child did not start a server")
	}
	if !eventually(func() bool { _, err := os.Stat(directory); return os.IsNotExist(err) }) {
		t.Fatalf("the server of a killed owner is still there: %s", directory)
	}
}

func TestClockMovesEveryConnectionOfThePool(t *testing.T) {
	t.Parallel()
	dsn := pgunittests.Database(t)
	pool := connect(t, dsn)
	ctx := context.Background()
	conns := make([]*sql.Conn, 3) // opened before the freeze
	for i := range conns {
		var err error
		if conns[i], err = pool.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
	}
	clock := pgunittests.Clock(t, dsn)
	at := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	clock.Freeze(at)
	for _, c := range conns {
		if got := scalar[time.Time](t, c, "select now()"); !got.Equal(at) {
			t.Fatalf("now() = %v, want %v", got, at)
		}
	}
	clock.Advance(31 * 24 * time.Hour)
	for _, c := range conns {
		if got := scalar[time.Time](t, c, "select now()"); !got.Equal(at.Add(31 * 24 * time.Hour)) {
			t.Fatalf("now() = %v after Advance", got)
		}
	}
	clock.Release()
	if got := scalar[time.Time](t, conns[0], "select now()"); time.Since(got).Abs() > 5*time.Minute {
		t.Fatalf("now() = %v after Release", got)
	}
}

func TestClockGoesBackByANegativeDurationAndARefusedCallIsAnError(t *testing.T) {
	t.Parallel()
	dsn := pgunittests.Database(t)
	clock := pgunittests.DatabaseClock{DSN: dsn}
	ctx := context.Background()
	var e *pgunittests.Error
	err := clock.Advance(ctx, time.Hour) // a real clock cannot be advanced
	if !errors.As(err, &e) || e.ExitCode != 9 || !strings.HasPrefix(e.Message, "pg_unit_tests: ") ||
		strings.Contains(e.Message, "\n") {
		t.Fatalf("Advance of a real clock: %v", err)
	}
	at := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	for _, step := range []func() error{
		func() error { return clock.Freeze(ctx, at) },
		func() error { return clock.Advance(ctx, -2*time.Hour) },
		func() error { return clock.AdvanceInterval(ctx, "-1 day") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	defer clock.Release(ctx)
	if got := scalar[time.Time](t, connect(t, dsn), "select now()"); !got.Equal(at.Add(-26 * time.Hour)) {
		t.Fatalf("now() = %v, want %v", got, at.Add(-26*time.Hour))
	}
}
