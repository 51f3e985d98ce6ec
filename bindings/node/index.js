'use strict';
// pg-unit-tests: real PostgreSQL in tests, ready in milliseconds, with a clock you control.
// A thin layer over the pg_unit_tests command line (lib/cli.js runs it).

const cli = require('./lib/cli.js');

const { PgUnitTestsError } = cli;

function environment(uri, host, port, user, password, database) {
  const env = { PGHOST: host, PGPORT: String(port), PGUSER: user, PGDATABASE: database, DATABASE_URL: uri };
  if (password) env.PGPASSWORD = password;
  return env;
}

// Connection details of a libpq URI as the CLI prints them:
// postgresql://user[:password]@[host[:port]]/database[?host=SOCKETDIR&port=N]. (WHATWG URL rejects
// the empty host of a socket URI, hence a pattern.)
const URI = /^postgres(?:ql)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]*\]|[^:/?]*)(?::(\d+))?(?:\/([^?]*))?(?:\?(.*))?$/;

function parseUri(uri) {
  const m = URI.exec(uri);
  if (!m) throw new PgUnitTestsError(`pg_unit_tests: not a PostgreSQL URI: ${uri}`, 2);
  const query = new URLSearchParams(m[6] || '');
  const decode = (s) => decodeURIComponent(s || '');
  return {
    host: decode(m[3]) || query.get('host') || '',
    port: Number(m[4] || query.get('port') || 5432),
    user: decode(m[1]),
    password: decode(m[2]),
    database: decode(m[5]),
  };
}

/**
 * A fresh database on `server` (a Server from startServer, or a server URI), cloned from
 * `template` (default: the server's migrated database). Drop it with `drop()`; it goes with this
 * process if not before.
 */
async function createDatabase(server, options = {}) {
  const isServer = typeof server === 'object' && server !== null;
  const serverUri = isServer ? server.uri : server;
  if (!serverUri) {
    throw new PgUnitTestsError('pg_unit_tests: createDatabase needs a server (startServer()) or its URI', 2);
  }
  const path = cli.find(options.cli || (isServer ? server.cli : undefined));
  // Owned by this process: dropped when it ends, however it ends, if not before.
  const uri = await cli.createdb(path, serverUri, { template: options.template, owner: process.pid, label: options.label });
  const { host, port, user, password, database } = parseUri(uri);
  const db = {
    uri, host, port, user, password, database,
    env: environment(uri, host, port, user, password, database),
    cli: path,
    /** Drops the database, ending the sessions still connected to it. */
    drop: () => cli.dropdb(path, uri).then(() => undefined),
    /** The clock of every session of this database. */
    clock: () => clock(uri, { cli: path }),
  };
  return db;
}

/**
 * Starts a throw-away server. It stops with `stop()`, and when this process exits, however it
 * exits (`keep: true` leaves it to `stop()` and the CLI's idle timeout).
 */
async function startServer(options = {}) {
  const path = cli.find(options.cli);
  const info = await cli.start(path, options, options.keep ? undefined : process.pid);
  const server = {
    uri: info.uri,
    host: info.host,
    port: Number(info.port),
    user: info.user,
    password: info.password || '',
    database: info.database,
    id: info.id,
    directory: info.directory,
    version: info.version,
    env: environment(info.uri, info.host, info.port, info.user, info.password, info.database),
    cli: path,
    /** Stops the server now and removes its files. */
    stop: () => cli.stop(path, info.uri).then(() => undefined),
    createDatabase: (opts = {}) => createDatabase(server, opts),
  };
  return server;
}

// A Date is an instant; a string goes as it is (PostgreSQL's timestamptz input); a number is
// milliseconds since the epoch, as Date takes it.
function instant(at) {
  if (typeof at === 'string') return at;
  if (typeof at === 'number') return new Date(at).toISOString();
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw new TypeError('invalid Date');
    return at.toISOString();
  }
  throw new TypeError(`expected a Date, a string or epoch milliseconds, not ${typeof at}`);
}

// A number is milliseconds of elapsed time (as setTimeout takes it); a string is PostgreSQL's
// interval input ('1 month': calendar arithmetic).
function interval(by) {
  if (typeof by === 'string') return by;
  if (typeof by === 'number' && Number.isFinite(by)) return `${(by / 1000).toFixed(3)} seconds`;
  throw new TypeError(`expected milliseconds or an interval string, not ${typeof by}`);
}

/**
 * The clock of every session of a database (a Database or a URI), existing and new, from their
 * next statement on: the application's connection pool follows it too.
 */
function clock(target, options = {}) {
  const uri = typeof target === 'string' ? target : target && target.uri;
  if (!uri) throw new TypeError('clock() needs a database or its URI');
  const path = cli.find(options.cli || (typeof target === 'object' ? target.cli : undefined));
  const call = async (action, value) => {
    await cli.clock(path, uri, action, value);
  };
  // async: a bad argument rejects like a failed call instead of throwing.
  return {
    uri,
    /** Time stands still at `at` (default: now). */
    freeze: async (at = new Date()) => call('freeze', instant(at)),
    /** Jumps to `to`; the clock keeps running from there. */
    travel: async (to) => call('travel', instant(to)),
    /** Moves a frozen or travelled clock by `by`. */
    advance: async (by) => call('advance', interval(by)),
    /** Back to real time. */
    release: async () => call('release'),
  };
}

module.exports = { startServer, createDatabase, clock, PgUnitTestsError };
