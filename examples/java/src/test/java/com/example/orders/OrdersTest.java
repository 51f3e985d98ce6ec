package com.example.orders;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.zaxxer.hikari.HikariDataSource;
import io.github.pgunittests.PgClock;
import io.github.pgunittests.PgDatabase;
import io.github.pgunittests.PgUnitTests;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

// One server for the run, migrated once; a fresh database per test method, its clock.
@PgUnitTests(init = "../migrations")
class OrdersTest {
  @Test
  void anOpenOrderIsOverdueAfter30Days(PgDatabase db, PgClock clock) throws SQLException {
    try (HikariDataSource pool = Orders.pool(db.jdbcUrl(), db.user(), db.password())) {
      Orders orders = new Orders(pool); // the application's own pool, not the test's connection
      clock.freeze(Instant.parse("2024-01-31T09:00:00Z"));
      long order = orders.place("ada"); // created_at DEFAULT now(): the frozen instant

      clock.advance(Duration.ofDays(30));
      assertEquals(List.of(), orders.markOverdue()); // exactly 30 days old: not yet

      clock.advance(Duration.ofDays(1));
      assertEquals(List.of(order), orders.markOverdue());
    }
  }
}
