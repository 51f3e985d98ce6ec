package io.github.pgunittests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** The extension as a project's tests use it: JDBC over TCP, a fresh database per test method. */
@PgUnitTests(settings = {"work_mem=7MB", "search_path=public, \"my schema\""})
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExtensionTest {
  private static final List<String> seen = new ArrayList<>();
  private PgDatabase before;

  static Connection connect(PgDatabase db) throws SQLException {
    return DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
  }

  static String scalar(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  @BeforeEach
  void setUp(PgDatabase db) {
    before = db;
  }

  @Test
  @Order(1)
  void eachTestGetsAFreshDatabase(PgDatabase db) throws SQLException {
    assertSame(before, db, "@BeforeEach and the test share the test's database");
    try (Connection c = connect(db)) {
      assertEquals("t", scalar(c, "select to_regclass('orders') is null"));
      c.createStatement().execute("create table orders (id int)");
      assertEquals(db.name(), scalar(c, "select current_database()"));
    }
    seen.add(db.name());
  }

  @Test
  @Order(2)
  void andAnotherOne(PgDatabase db) throws SQLException {
    try (Connection c = connect(db)) {
      assertEquals("t", scalar(c, "select to_regclass('orders') is null"));
    }
    seen.add(db.name());
    assertNotEquals(seen.get(0), seen.get(1));
  }

  @Test
  @Order(3)
  void theDatabasesOfEarlierTestsAreDropped(PgServer server, PgDatabase db) throws Exception {
    try (Connection c = connect(db)) {
      String names = "'" + String.join("','", seen) + "'";
      boolean gone = Support.eventually(() -> scalar(c, "select count(*) from pg_database where datname in (" + names + ")").equals("0"));
      assertTrue(gone, "databases still there: " + seen);
    }
    assertEquals("127.0.0.1", server.host());
    assertFalse(server.password().isEmpty());
  }

  @Test
  void settingsReachTheServer(PgDatabase db) throws SQLException {
    try (Connection c = connect(db)) {
      assertEquals("7MB", scalar(c, "show work_mem"));
      assertEquals("public, \"my schema\"", scalar(c, "show search_path"));
    }
  }

  @Test
  void theClockMovesEveryConnectionOfTheDatabase(PgDatabase db, PgClock clock) throws SQLException {
    List<Connection> pool = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) pool.add(connect(db)); // opened before the freeze
      Instant at = Instant.parse("2024-02-29T12:00:00Z");
      clock.freeze(at);
      for (Connection c : pool) assertEquals(at, now(c));
      clock.advance(Duration.ofDays(31));
      for (Connection c : pool) assertEquals(at.plus(Duration.ofDays(31)), now(c));
      clock.release();
      assertTrue(Duration.between(now(pool.get(0)), Instant.now()).abs().toMinutes() < 5);
    } finally {
      for (Connection c : pool) c.close();
    }
  }

  @Test
  void theClockGoesBackByANegativeDurationAndARefusedCallThrows(PgDatabase db, PgClock clock) throws SQLException {
    PgUnitTestsException e = assertThrows(PgUnitTestsException.class, () -> clock.advance(Duration.ofHours(1)));
    assertEquals(9, e.exitCode(), "a real clock cannot be advanced");
    assertTrue(e.getMessage().startsWith("pg_unit_tests: ") && !e.getMessage().contains("\n"), e.getMessage());
    Instant at = Instant.parse("2024-02-29T12:00:00Z");
    clock.freeze(at);
    clock.advance(Duration.ofHours(-2));
    clock.advance("-1 day");
    try (Connection c = connect(db)) {
      assertEquals(at.minus(Duration.ofHours(26)), now(c));
    }
  }

  @Test
  void theJdbcUrlAloneConnectsToTheTestsDatabase(PgDatabase db, PgServer server) throws SQLException {
    try (Connection c = DriverManager.getConnection(db.jdbcUrl())) {
      assertEquals(db.name(), scalar(c, "select current_database()"));
    }
    try (Connection c = DriverManager.getConnection(server.jdbcUrl())) {
      assertEquals("postgres", scalar(c, "select current_database()"));
    }
  }

  static Instant now(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select now()")) {
      r.next();
      return r.getObject(1, OffsetDateTime.class).withOffsetSameInstant(ZoneOffset.UTC).toInstant();
    }
  }
}
