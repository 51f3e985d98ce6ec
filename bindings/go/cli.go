package pgunittests

// The one file that runs the pg_unit_tests command line. Every harness feature (servers,
// migrated templates, per-test databases, the database clock) lives in the CLI; this file turns Go
// arguments into its arguments and its failures into *Error. When the CLI grows or renames an
// option, this is the place to adapt.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// EnvCLI names the environment variable that points at the pg_unit_tests command.
const EnvCLI = "PG_UNIT_TESTS_CLI"

// Error is a failure of the pg_unit_tests command: Message is its one line, ExitCode its
// documented exit code (127: the command was not found).
type Error struct {
	Message  string
	ExitCode int
	Command  []string
	Stderr   string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (exit code %d)", e.Message, e.ExitCode) }

// findCLI returns explicit, else $PG_UNIT_TESTS_CLI, else pg_unit_tests on PATH.
func findCLI(explicit string) (string, error) {
	wanted := explicit
	if wanted == "" {
		wanted = os.Getenv(EnvCLI)
	}
	if wanted == "" {
		wanted = "pg_unit_tests"
	}
	path, err := exec.LookPath(wanted)
	if err != nil {
		return "", &Error{
			Message: fmt.Sprintf("pg_unit_tests: the command %q was not found: install pg_unit_tests "+
				"(make install) or set %s to its path", wanted, EnvCLI),
			ExitCode: 127,
			Command:  []string{wanted},
		}
	}
	return path, nil
}

// run runs the CLI and returns its standard output.
func run(ctx context.Context, cli string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cli, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	code := -1
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	}
	message := fmt.Sprintf("%s: %v", cli, err)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		message = last
	}
	return "", &Error{Message: message, ExitCode: code, Command: append([]string{cli}, args...), Stderr: stderr.String()}
}

// quoteSetting makes one -o word: the CLI's -o parser (pg_ctl style) unescapes \\ and \" inside
// double quotes.
func quoteSetting(setting string) string {
	return `-c "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(setting) + `"`
}

// startJSON is the output of `start --json`.
type startJSON struct {
	URI       string `json:"uri"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	User      string `json:"user"`
	Password  string `json:"password"`
	Database  string `json:"database"`
	ID        string `json:"id"`
	Directory string `json:"directory"`
	Version   string `json:"version"`
}

func cliStart(ctx context.Context, cli string, o Options, owner int) (startJSON, error) {
	args := []string{"start", "--json"}
	if o.TCP {
		args = append(args, "--tcp")
	}
	for _, p := range o.Init {
		args = append(args, "--init="+p)
	}
	if o.InitCommand != "" {
		args = append(args, "--init-command="+o.InitCommand)
	}
	for _, p := range o.InitKey {
		args = append(args, "--init-key="+p)
	}
	for _, d := range o.Extensions {
		args = append(args, "--extension="+d)
	}
	// The clock (`clock`) works in databases with the extension: made in the server's database, it
	// is in every database cloned from it.
	args = append(args, "--create=pg_unit_tests")
	for _, n := range o.Create {
		if n != "pg_unit_tests" {
			args = append(args, "--create="+n)
		}
	}
	names := make([]string, 0, len(o.Settings))
	for name := range o.Settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, "--options="+quoteSetting(name+"="+o.Settings[name]))
	}
	if o.PGConfig != "" {
		args = append(args, "--pg-config="+o.PGConfig)
	}
	var info startJSON
	decode := func(out string, err error) error {
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(out), &info)
	}
	if owner != 0 {
		// The server goes when the owner process ends, however it ends; no idle timeout applies.
		args = append(args, fmt.Sprintf("--owner=%d", owner))
	}
	return info, decode(run(ctx, cli, args...))
}

func cliStop(ctx context.Context, cli, uri string) error {
	_, err := run(ctx, cli, "stop", uri)
	return err
}

// cliCreatedb returns the URI of a fresh database from the server's pool of clones (of template,
// else of the server's migrated database), dropped when the process owner ends if not before.
func cliCreatedb(ctx context.Context, cli, serverURI, template, label string, owner int) (string, error) {
	args := []string{"createdb", "--uri=" + serverURI, fmt.Sprintf("--owner=%d", owner)}
	if template != "" {
		args = append(args, "--template="+template)
	}
	if label != "" {
		args = append(args, "--label="+label)
	}
	out, err := run(ctx, cli, args...)
	return strings.TrimSpace(out), err
}

func cliDropdb(ctx context.Context, cli, uri string) error {
	_, err := run(ctx, cli, "dropdb", uri)
	return err
}

// cliClock runs `clock freeze|travel|advance|release` on every session of the URI's database.
func cliClock(ctx context.Context, cli, uri, action string, value ...string) error {
	_, err := run(ctx, cli, append([]string{"clock", action, "--uri=" + uri}, value...)...)
	return err
}
