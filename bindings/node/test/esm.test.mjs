// The ES module entry point is the CommonJS implementation, not a copy.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import pgut, { startServer, createDatabase, clock, PgUnitTestsError } from 'pg-unit-tests';

const require = createRequire(import.meta.url);

test('named and default exports of the ESM entry are the CommonJS ones', () => {
  const cjs = require('pg-unit-tests');
  assert.equal(startServer, cjs.startServer);
  assert.equal(createDatabase, cjs.createDatabase);
  assert.equal(clock, cjs.clock);
  assert.equal(PgUnitTestsError, cjs.PgUnitTestsError);
  assert.equal(pgut, cjs);
});

test('a server from the ESM entry', async () => {
  const server = await startServer();
  const db = await server.createDatabase();
  assert.match(db.uri, /^postgresql:\/\//);
  await db.drop();
  await server.stop();
});
