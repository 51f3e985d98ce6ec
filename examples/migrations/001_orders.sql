-- The application's schema, applied once per change of these files (pg_unit_tests --init).
CREATE TABLE orders (
  id         bigserial PRIMARY KEY,
  customer   text        NOT NULL,
  status     text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'overdue')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Marks open orders older than 30 days overdue; returns their ids.
CREATE FUNCTION mark_overdue_orders() RETURNS SETOF bigint LANGUAGE sql AS $$
  UPDATE orders SET status = 'overdue'
   WHERE status = 'open' AND created_at < now() - interval '30 days'
  RETURNING id
$$;
