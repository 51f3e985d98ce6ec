// Compiled by `npm run typecheck`: the typings as an ES module consumer sees them.
import pgut, { startServer, createDatabase, clock, PgUnitTestsError, type Server, type Database } from 'pg-unit-tests';

const server: Server = await startServer({ tcp: true, init: ['migrations'], settings: { work_mem: '64MB' } });
const db: Database = await createDatabase(server);
const port: number = db.port;
const url: string = db.env.DATABASE_URL;
await clock(db).freeze(new Date('2024-02-29T12:00:00Z'));
await db.clock().advance(31 * 24 * 3600 * 1000);
await db.clock().advance('1 month');
await db.drop();
await server.stop();
const same: typeof startServer = pgut.startServer;
try {
  await createDatabase('postgresql://nowhere');
} catch (e) {
  if (e instanceof PgUnitTestsError) console.log(e.exitCode, e.message, port, url, same);
}
