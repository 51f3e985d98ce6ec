// Types of pg-unit-tests (CommonJS and, through index.d.mts, ES modules).

/** Server settings, extensions and migrations; every field is optional. */
export interface ServerOptions {
  /** Also listen on 127.0.0.1 on a free port, with a random password (needed by drivers without Unix sockets). */
  tcp?: boolean;
  /** SQL files or directories of them (applied in name order) that migrate the server's database, once per change of their content. */
  init?: string | string[];
  /** A migration command run once per change, with DATABASE_URL and PG* set. */
  initCommand?: string;
  /** The files or directories the migration command reads (its migrations): their content decides when it runs again. */
  initKey?: string | string[];
  /** PGXS extensions to serve from their build trees. */
  extensions?: string | string[];
  /** CREATE EXTENSION these in the server's database. */
  create?: string | string[];
  /** Server settings, as in postgresql.conf: `{ work_mem: '64MB' }`. */
  settings?: Record<string, string | number | boolean>;
  /** pg_config of the PostgreSQL installation to use. */
  pgConfig?: string;
  /** The pg_unit_tests command (default: $PG_UNIT_TESTS_CLI, then PATH). */
  cli?: string;
  /** Do not tie the server to this process: it runs until stop() (or the CLI's idle timeout). */
  keep?: boolean;
}

/** PGHOST, PGPORT, PGUSER, PGPASSWORD (with tcp), PGDATABASE and DATABASE_URL. */
export type ConnectionEnv = Record<'PGHOST' | 'PGPORT' | 'PGUSER' | 'PGDATABASE' | 'DATABASE_URL', string> & {
  PGPASSWORD?: string;
};

export interface Connection {
  /** A libpq URI, as `pg`, `postgres` and psql take it. */
  readonly uri: string;
  /** A socket directory, or 127.0.0.1 with tcp. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Empty unless tcp. */
  readonly password: string;
  readonly database: string;
  readonly env: ConnectionEnv;
}

export interface Server extends Connection {
  readonly id: string;
  readonly directory: string;
  readonly version: string;
  /** Stops the server now and removes its files. */
  stop(): Promise<void>;
  /** A fresh database on this server. */
  createDatabase(options?: DatabaseOptions): Promise<Database>;
}

export interface DatabaseOptions {
  /** The database or snapshot to clone (default: the server's migrated database). */
  template?: string;
  /** Its name in `pg_unit_tests list` (a test's name). */
  label?: string;
  cli?: string;
}

export interface Database extends Connection {
  /** Drops the database, ending the sessions still connected to it. */
  drop(): Promise<void>;
  /** The clock of every session of this database. */
  clock(): Clock;
}

/**
 * The clock of every session of one database, existing and new, from their next statement on.
 * Instants: a Date, epoch milliseconds, or a PostgreSQL timestamptz string. Durations:
 * milliseconds of elapsed time, or a PostgreSQL interval string ('1 month': calendar arithmetic).
 */
export interface Clock {
  readonly uri: string;
  /** Time stands still at `at` (default: now). */
  freeze(at?: Date | number | string): Promise<void>;
  /** Jumps to `to`; the clock keeps running from there. */
  travel(to: Date | number | string): Promise<void>;
  /** Moves a frozen or travelled clock by `by`. */
  advance(by: number | string): Promise<void>;
  /** Back to real time. */
  release(): Promise<void>;
}

/** Starts a throw-away server, stopped by stop() and when this process exits, however it exits. */
export function startServer(options?: ServerOptions): Promise<Server>;

/** A fresh database on a server (a Server or a server URI). */
export function createDatabase(server: Server | string, options?: DatabaseOptions): Promise<Database>;

/** The clock of a database (a Database or a URI). */
export function clock(database: Database | string, options?: { cli?: string }): Clock;

/** The pg_unit_tests command failed: `message` is its one line, `exitCode` its documented exit code. */
export class PgUnitTestsError extends Error {
  readonly exitCode: number;
  readonly command: string[];
  readonly stderr: string;
}
