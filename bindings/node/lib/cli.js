'use strict';
// The one module that runs the pg_unit_tests command line. Every harness feature (servers,
// migrated templates, per-test databases, the database clock) lives in the CLI; this module turns
// JavaScript arguments into its arguments and its failures into PgUnitTestsError. When the CLI
// grows or renames an option, this is the place to adapt.

const { execFile } = require('node:child_process');
const { constants } = require('node:os');

const ENV_CLI = 'PG_UNIT_TESTS_CLI';

/** The CLI failed: `message` is its one line, `exitCode` its documented exit code. */
class PgUnitTestsError extends Error {
  constructor(message, exitCode, command = [], stderr = '') {
    super(message);
    this.name = 'PgUnitTestsError';
    this.exitCode = exitCode;
    this.command = command;
    this.stderr = stderr;
  }
}

/** The CLI to run: `explicit`, else $PG_UNIT_TESTS_CLI, else pg_unit_tests on PATH. */
function find(explicit) {
  return explicit || process.env[ENV_CLI] || 'pg_unit_tests';
}

/** Runs the CLI; resolves to its standard output, rejects with PgUnitTestsError. */
function run(cli, args) {
  const command = [cli, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(cli, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        return reject(new PgUnitTestsError(
          `pg_unit_tests: the command '${cli}' was not found: install pg_unit_tests (make install) or set ${ENV_CLI} to its path`,
          127, command, ''));
      }
      const lines = String(stderr).split('\n').filter((line) => line.trim() !== '');
      const exitCode = typeof error.code === 'number' ? error.code : 128 + (constants.signals[error.signal] || 0);
      const message = lines.length ? lines[lines.length - 1] : `${cli} exited with status ${exitCode}`;
      reject(new PgUnitTestsError(message, exitCode, command, String(stderr)));
    });
    child.stdin.end();
  });
}

// One -o word: the CLI's -o parser (pg_ctl style) unescapes \\ and \" inside double quotes.
function quoteSetting(setting) {
  return `-c "${setting.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const list = (value) => (value === undefined || value === null ? [] : [].concat(value));

/** `start --json`: the server's connection details. */
async function start(cli, options = {}, owner = undefined) {
  const args = ['start', '--json'];
  if (options.tcp) args.push('--tcp');
  for (const path of list(options.init)) args.push(`--init=${path}`);
  if (options.initCommand) args.push(`--init-command=${options.initCommand}`);
  for (const path of list(options.initKey)) args.push(`--init-key=${path}`);
  for (const dir of list(options.extensions)) args.push(`--extension=${dir}`);
  // The clock (`clock`) works in databases with the extension: made in the server's database, it
  // is in every database cloned from it.
  for (const name of new Set(['pg_unit_tests', ...list(options.create)])) args.push(`--create=${name}`);
  for (const [name, value] of Object.entries(options.settings || {})) {
    args.push(`--options=${quoteSetting(`${name}=${value}`)}`);
  }
  if (options.pgConfig) args.push(`--pg-config=${options.pgConfig}`);
  // The server goes when the owner process ends, however it ends; no idle timeout applies.
  if (owner !== undefined) args.push(`--owner=${owner}`);
  return JSON.parse(await run(cli, args));
}

const stop = (cli, uri) => run(cli, ['stop', uri]);

/**
 * A fresh database from the server's pool of clones (of `template`, else of the server's migrated
 * database), dropped when the process `owner` ends if not before; its URI.
 */
async function createdb(cli, serverUri, { template, owner, label }) {
  const args = ['createdb', `--uri=${serverUri}`, `--owner=${owner}`];
  if (template) args.push(`--template=${template}`);
  if (label) args.push(`--label=${label}`);
  return (await run(cli, args)).trim();
}

const dropdb = (cli, uri) => run(cli, ['dropdb', uri]);

/** `clock freeze|travel|advance|release`: the clock of every session of the URI's database. */
const clock = (cli, uri, action, value) =>
  run(cli, ['clock', action, `--uri=${uri}`, ...(value === undefined ? [] : [value])]);

module.exports = { PgUnitTestsError, find, start, stop, createdb, dropdb, clock };
