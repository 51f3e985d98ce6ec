'use strict';
// The package against the real pg_unit_tests command, with node:test and the pg driver.
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const { test } = require('node:test');
const pg = require('pg');

const { startServer, createDatabase, clock, PgUnitTestsError } = require('pg-unit-tests');
const { eventually, gone, query, scalar } = require('./support.js');

test('a server runs until stopped and leaves nothing', async () => {
  const server = await startServer();
  assert.equal(await scalar(server.uri, 'select current_database()'), server.database);
  assert.ok(fs.existsSync(server.directory));
  await server.stop();
  assert.ok(await gone(server.directory));
});

test('connection details and env reach the server over tcp', async () => {
  const server = await startServer({ tcp: true });
  try {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.password && server.port > 0);
    const { host, port, user, password, database } = server;
    const client = new pg.Client({ host, port, user, password, database });
    await client.connect();
    assert.equal((await client.query('select inet_server_addr()::text as a')).rows[0].a, '127.0.0.1/32');
    await client.end();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG') && k !== 'DATABASE_URL'));
    const out = execFileSync('psql', ['-Atc', "select current_user || ' ' || current_database()"],
      { env: { ...env, ...server.env }, encoding: 'utf8' });
    assert.equal(out.trim(), 'postgres postgres');
  } finally {
    await server.stop();
  }
});

test('databases are fresh, on the server, and dropped with their sessions', async () => {
  const server = await startServer();
  try {
    const a = await createDatabase(server);
    const b = await server.createDatabase();
    assert.notEqual(a.database, b.database);
    assert.deepEqual([a.host, a.port, a.user], [server.host, server.port, server.user]);
    assert.equal(a.env.PGDATABASE, a.database);
    await query(a.uri, 'create table t (x int)');
    assert.equal(await scalar(b.uri, "select to_regclass('t') is null"), true);
    const open = new pg.Client({ connectionString: a.uri });
    open.on('error', () => {}); // dropping ends this session
    await open.connect();
    await a.drop();
    await b.drop();
    const names = [a.database, b.database];
    assert.ok(await eventually(async () =>
      Number(await scalar(server.uri, 'select count(*) from pg_database where datname = any($1)', [names])) === 0));
  } finally {
    await server.stop();
  }
});

test('a database from a server URI, as a test worker gets it', async () => {
  const server = await startServer({ tcp: true });
  try {
    const db = await createDatabase(server.uri);
    assert.deepEqual([db.host, db.port, db.user, db.password], [server.host, server.port, server.user, server.password]);
    assert.equal(await scalar(db.uri, 'select current_database()'), db.database);
    await db.drop();
  } finally {
    await server.stop();
  }
});

test('settings with spaces and quotes reach the server', async () => {
  const server = await startServer({ settings: { work_mem: '5MB', search_path: 'app, "my schema"' } });
  try {
    assert.equal(await scalar(server.uri, 'show work_mem'), '5MB');
    assert.equal(await scalar(server.uri, 'show search_path'), 'app, "my schema"');
  } finally {
    await server.stop();
  }
});

test('a CLI failure rejects with its one line and exit code', async () => {
  await assert.rejects(startServer({ settings: { no_such_setting: 1 } }), (error) => {
    assert.ok(error instanceof PgUnitTestsError);
    assert.equal(error.exitCode, 4);
    assert.match(error.message, /^pg_unit_tests: .*unrecognized configuration parameter "no_such_setting"$/);
    return true;
  });
});

test('a missing CLI names the variable; an explicit one wins', async () => {
  const saved = process.env.PG_UNIT_TESTS_CLI;
  const real = saved || 'pg_unit_tests';
  process.env.PG_UNIT_TESTS_CLI = '/nonexistent/pg_unit_tests';
  try {
    await assert.rejects(startServer(), (error) => error.exitCode === 127 && /PG_UNIT_TESTS_CLI/.test(error.message));
    const server = await startServer({ cli: real });
    await server.stop();
  } finally {
    process.env.PG_UNIT_TESTS_CLI = saved;
    if (saved === undefined) delete process.env.PG_UNIT_TESTS_CLI;
  }
});

test('times: a Date is an instant, numbers are milliseconds, strings go as they are', async () => {
  await assert.rejects(clock('postgresql://x@/db').advance(new Date()), TypeError);
  await assert.rejects(clock('postgresql://x@/db').freeze(new Date('nonsense')), TypeError);
});

test('a server dies with its owner, even by SIGKILL', async () => {
  const child = spawn(process.execPath, ['-e', `
    require('pg-unit-tests').startServer().then((s) => { console.log(s.directory); setTimeout(() => {}, 120000); });
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const directory = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  assert.ok(fs.existsSync(directory));
  child.kill('SIGKILL');
  assert.ok(await gone(directory), `the server of a killed owner is still there: ${directory}`);
});

test('the clock moves every connection of the database', async () => {
  const server = await startServer();
  const db = await createDatabase(server);
  const pool = new pg.Pool({ connectionString: db.uri, max: 3 });
  const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]); // opened before the freeze
  const now = async (c) => (await c.query('select now() as t')).rows[0].t;
  try {
    const at = new Date('2024-02-29T12:00:00Z');
    await db.clock().freeze(at);
    for (const c of clients) assert.deepEqual(await now(c), at);
    await clock(db).advance(31 * 24 * 3600 * 1000);
    for (const c of clients) assert.deepEqual(await now(c), new Date('2024-03-31T12:00:00Z'));
    await clock(db.uri).travel('2030-01-01 00:00:00+00');
    assert.ok((await now(clients[1])) >= new Date('2030-01-01T00:00:00Z'));
    await db.clock().release();
    assert.ok(Math.abs((await now(clients[0])) - Date.now()) < 5 * 60 * 1000);
  } finally {
    for (const c of clients) c.release();
    await pool.end();
    await db.drop();
    await server.stop();
  }
});

test('the clock goes back by a negative delta, and a refused call rejects with the exit code', async () => {
  const server = await startServer();
  try {
    const db = await createDatabase(server);
    await assert.rejects(db.clock().advance(1000), (error) =>
      error instanceof PgUnitTestsError && error.exitCode === 9 && /^pg_unit_tests: [^\n]+$/.test(error.message));
    const at = new Date('2024-02-29T12:00:00Z');
    await db.clock().freeze(at);
    await db.clock().advance(-2 * 3600 * 1000);
    assert.deepEqual(await scalar(db.uri, 'select now()'), new Date('2024-02-29T10:00:00Z'));
    await db.clock().advance('-1 day');
    assert.deepEqual(await scalar(db.uri, 'select now()'), new Date('2024-02-28T10:00:00Z'));
    await db.drop();
  } finally {
    await server.stop();
  }
});
