// The application: it talks to PostgreSQL through its own connection pool.
import { readdir, readFile } from 'node:fs/promises';

import pg from 'pg';

const MIGRATIONS = new URL('../migrations/', import.meta.url);

/** Applies the schema (the migration files in name order), as the application does at deploy. */
export async function migrate(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const name of (await readdir(MIGRATIONS)).filter((n) => n.endsWith('.sql')).sort()) {
      await client.query(await readFile(new URL(name, MIGRATIONS), 'utf8'));
    }
  } finally {
    await client.end();
  }
}

export const connect = (databaseUrl) => new pg.Pool({ connectionString: databaseUrl, max: 4 });

export async function placeOrder(pool, customer) {
  const { rows } = await pool.query('INSERT INTO orders (customer) VALUES ($1) RETURNING id', [customer]);
  return rows[0].id;
}

export async function markOverdue(pool) {
  const { rows } = await pool.query('SELECT id FROM mark_overdue_orders() AS id ORDER BY id');
  return rows.map((row) => row.id);
}
