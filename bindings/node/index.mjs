// ESM entry point: the same objects as the CommonJS one (one implementation, no dual-package state).
import cjs from './index.js';

export const { startServer, createDatabase, clock, PgUnitTestsError } = cjs;
export default cjs;
