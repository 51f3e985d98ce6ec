// Compiled by `npm run typecheck`: the typings as a CommonJS consumer sees them.
import pgut = require('pg-unit-tests');

async function main(): Promise<void> {
  const server: pgut.Server = await pgut.startServer();
  const db = await server.createDatabase({ template: 'postgres' });
  const c: pgut.Clock = pgut.clock(db.uri);
  await c.travel(Date.UTC(2030, 0, 1));
  await c.release();
  // @ts-expect-error: advance takes milliseconds or an interval string
  await c.advance(new Date());
  await server.stop();
}
void main;
