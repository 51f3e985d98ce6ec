import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';

import { startServer } from 'pg-unit-tests';

import { connect, markOverdue, placeOrder } from '../orders.js';

const DAY = 24 * 60 * 60 * 1000;
let server;
let db;
let pool;

// One server for this file (node --test runs each file in its own process), migrated once.
before(async () => {
  server = await startServer({ init: new URL('../../migrations', import.meta.url).pathname });
});
after(() => server?.stop());

// A fresh database per test, and the application's own pool on it.
beforeEach(async () => {
  db = await server.createDatabase();
  pool = connect(db.uri);
  await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]); // the pool has open connections
});
afterEach(async () => {
  await pool.end();
  await db.drop();
});

test('an open order is overdue after 30 days', async () => {
  const clock = db.clock(); // every connection to the test's database, the pool's included
  await clock.freeze(new Date('2024-01-31T09:00:00Z'));
  const order = await placeOrder(pool, 'ada'); // created_at DEFAULT now(): the frozen instant

  await clock.advance(30 * DAY);
  assert.deepEqual(await markOverdue(pool), []); // exactly 30 days old: not yet

  await clock.advance(1 * DAY);
  assert.deepEqual(await markOverdue(pool), [order]);
});

test('created_at is the frozen instant', async () => {
  await db.clock().freeze(new Date('2024-02-29T12:00:00Z'));
  const order = await placeOrder(pool, 'grace');
  const { rows } = await pool.query('SELECT created_at FROM orders WHERE id = $1', [order]);
  assert.deepEqual(rows[0].created_at, new Date('2024-02-29T12:00:00Z'));
});
