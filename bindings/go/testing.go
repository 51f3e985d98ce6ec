package pgunittests

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// The test binary's server: started on first use, shared by its tests (parallel ones included).
// `go test -p N` runs test binaries side by side: each has its own.
var shared struct {
	sync.Mutex
	options  Options
	instance *Instance
	err      error
	started  bool
}

// Run is for TestMain: it configures the package's server, runs the tests and stops the server.
//
//	func TestMain(m *testing.M) {
//		os.Exit(pgunittests.Run(m, pgunittests.Options{Init: []string{"migrations"}}))
//	}
//
// Without it, Server and Database start a server with default options, which ends with the test
// binary.
func Run(m *testing.M, o Options) int {
	shared.Lock()
	shared.options = o
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.instance != nil {
		if err := shared.instance.Stop(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "pgunittests:", err)
			code = 1
		}
		shared.instance, shared.started = nil, false
	}
	return code
}

// Server returns the test binary's server, starting it on first use; it fails tb if the server
// does not start.
func Server(tb testing.TB) *Instance {
	tb.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.started {
		shared.instance, shared.err = Start(context.Background(), shared.options)
		shared.started = true
	}
	if shared.err != nil {
		tb.Fatalf("pgunittests: %v", shared.err)
	}
	return shared.instance
}

// Database returns the DSN of a fresh database for this test, cloned from the server's migrated
// database and dropped when the test ends (with its connections). Safe under t.Parallel().
func Database(tb testing.TB) string {
	tb.Helper()
	s := Server(tb)
	dsn, err := s.createDatabase(context.Background(), "", tb.Name())
	if err != nil {
		tb.Fatalf("pgunittests: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(context.Background(), dsn); err != nil {
			tb.Errorf("pgunittests: %v", err)
		}
	})
	return dsn
}

// TestClock is the clock of a test's database; a failing call fails the test.
type TestClock struct {
	tb    testing.TB
	clock DatabaseClock
}

// Clock returns the clock of every connection to dsn's database; it is released (real time)
// when the test ends.
func Clock(tb testing.TB, dsn string) *TestClock {
	tb.Helper()
	c := &TestClock{tb: tb, clock: DatabaseClock{DSN: dsn}}
	shared.Lock()
	if shared.instance != nil {
		c.clock.CLI = shared.instance.cli
	}
	shared.Unlock()
	tb.Cleanup(func() {
		if err := c.clock.Release(context.Background()); err != nil {
			tb.Errorf("pgunittests: %v", err)
		}
	})
	return c
}

func (c *TestClock) check(err error) {
	c.tb.Helper()
	if err != nil {
		c.tb.Fatalf("pgunittests: %v", err)
	}
}

// Freeze makes time stand still at at.
func (c *TestClock) Freeze(at time.Time) {
	c.tb.Helper()
	c.check(c.clock.Freeze(context.Background(), at))
}

// Travel jumps to "to"; the clock keeps running from there.
func (c *TestClock) Travel(to time.Time) {
	c.tb.Helper()
	c.check(c.clock.Travel(context.Background(), to))
}

// Advance moves a frozen or travelled clock by d (elapsed time).
func (c *TestClock) Advance(d time.Duration) {
	c.tb.Helper()
	c.check(c.clock.Advance(context.Background(), d))
}

// AdvanceInterval moves the clock by a PostgreSQL interval ("1 month": calendar arithmetic).
func (c *TestClock) AdvanceInterval(pgInterval string) {
	c.tb.Helper()
	c.check(c.clock.AdvanceInterval(context.Background(), pgInterval))
}

// Release returns every connection of the database to real time.
func (c *TestClock) Release() {
	c.tb.Helper()
	c.check(c.clock.Release(context.Background()))
}
