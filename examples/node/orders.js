// The application: it talks to PostgreSQL through its own connection pool.
import pg from 'pg';

export const connect = (databaseUrl) => new pg.Pool({ connectionString: databaseUrl, max: 4 });

export async function placeOrder(pool, customer) {
  const { rows } = await pool.query('INSERT INTO orders (customer) VALUES ($1) RETURNING id', [customer]);
  return rows[0].id;
}

export async function markOverdue(pool) {
  const { rows } = await pool.query('SELECT id FROM mark_overdue_orders() AS id ORDER BY id');
  return rows.map((row) => row.id);
}
