"""The one module that runs the ``pg_unit_tests`` command line.

Every harness feature (servers, migrated templates, per-test databases, the database clock) lives in
the CLI; this module turns Python arguments into its arguments and its failures into
:class:`PgUnitTestsError`. When the CLI grows or renames an option, this is the place to adapt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Iterable, Mapping, Sequence

ENV_CLI = "PG_UNIT_TESTS_CLI"


class PgUnitTestsError(Exception):
    """The CLI failed: ``message`` is its one line, ``exit_code`` its documented exit code."""

    def __init__(self, message: str, exit_code: int, command: Sequence[str] = (), stderr: str = ""):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.command = list(command)
        self.stderr = stderr

    def __str__(self) -> str:
        return f"{self.message} (exit code {self.exit_code})"


def find(explicit: str | os.PathLike[str] | None = None) -> str:
    """The CLI to run: ``explicit``, else ``$PG_UNIT_TESTS_CLI``, else ``pg_unit_tests`` on PATH."""
    wanted = os.fspath(explicit) if explicit else os.environ.get(ENV_CLI) or "pg_unit_tests"
    found = shutil.which(wanted)
    if not found:
        raise PgUnitTestsError(
            f"pg_unit_tests: the command {wanted!r} was not found: install pg_unit_tests "
            f"(make install) or set {ENV_CLI} to its path",
            127,
            [wanted],
        )
    return found


def run(cli: str, args: Sequence[str]) -> str:
    """Runs the CLI and returns its standard output; raises PgUnitTestsError when it fails."""
    command = [cli, *args]
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else f"{cli} exited with status {proc.returncode}"
        raise PgUnitTestsError(message, proc.returncode, command, proc.stderr)
    return proc.stdout


def _quote_setting(setting: str) -> str:
    # One -o word: the CLI's -o parser (pg_ctl style) unescapes \\ and \" inside double quotes.
    return '-c "' + setting.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start(
    cli: str,
    *,
    tcp: bool = False,
    init: Iterable[str | os.PathLike[str]] = (),
    init_command: str | None = None,
    init_key: Iterable[str | os.PathLike[str]] = (),
    extensions: Iterable[str | os.PathLike[str]] = (),
    create: Iterable[str] = (),
    settings: Mapping[str, object] | None = None,
    pg_config: str | os.PathLike[str] | None = None,
    owner: int | None = None,
) -> dict:
    """``start --json``: the server's connection details as a dict."""
    args = ["start", "--json"]
    if tcp:
        args.append("--tcp")
    for path in init:
        args.append(f"--init={os.fspath(path)}")
    if init_command:
        args.append(f"--init-command={init_command}")
    for path in init_key:
        args.append(f"--init-key={os.fspath(path)}")
    for path in extensions:
        args.append(f"--extension={os.fspath(path)}")
    # The clock (`clock`) works in databases with the extension: made in the server's database, it is
    # in every database cloned from it.
    for name in dict.fromkeys(["pg_unit_tests", *create]):
        args.append(f"--create={name}")
    for name, value in (settings or {}).items():
        args.append(f"--options={_quote_setting(f'{name}={value}')}")
    if pg_config:
        args.append(f"--pg-config={os.fspath(pg_config)}")
    if owner is not None:
        # The server goes when the owner process ends, however it ends; no idle timeout applies.
        args.append(f"--owner={owner}")
    return json.loads(run(cli, args))


def stop(cli: str, uri: str) -> None:
    run(cli, ["stop", uri])


def createdb(cli: str, server_uri: str, *, template: str | None, owner: int, label: str | None) -> str:
    """A fresh database from the server's pool of clones (of ``template``, else of the server's
    migrated database), dropped when the process ``owner`` ends if not before; its URI."""
    args = ["createdb", f"--uri={server_uri}", f"--owner={owner}"]
    if template:
        args.append(f"--template={template}")
    if label:
        args.append(f"--label={label}")
    return run(cli, args).strip()


def dropdb(cli: str, uri: str) -> None:
    run(cli, ["dropdb", uri])


def clock(cli: str, uri: str, action: str, value: str | None = None) -> None:
    """``clock freeze|travel|advance|release``: the clock of every session of the URI's database."""
    run(cli, ["clock", action, f"--uri={uri}", *([value] if value is not None else [])])
