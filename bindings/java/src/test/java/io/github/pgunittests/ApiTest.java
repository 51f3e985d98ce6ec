package io.github.pgunittests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PgServer and PgDatabase without the extension, errors, and the owner's death. */
class ApiTest {
  @Test
  void aServerRunsUntilClosedAndLeavesNothing() throws Exception {
    PgServer server = PgServer.start(new PgServer.Options().tcp(true));
    try (PgDatabase db = server.createDatabase();
        Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password())) {
      assertEquals(db.name(), ExtensionTest.scalar(c, "select current_database()"));
    }
    assertTrue(Files.isDirectory(Path.of(server.directory())));
    server.close();
    assertTrue(Support.eventually(() -> !Files.exists(Path.of(server.directory()))));
  }

  @Test
  void aCliFailureIsAnExceptionWithItsLineAndExitCode() {
    PgUnitTestsException e = assertThrows(PgUnitTestsException.class,
        () -> PgServer.start(new PgServer.Options().settings("no_such_setting=1")));
    assertEquals(4, e.exitCode());
    assertTrue(e.getMessage().startsWith("pg_unit_tests: "), e.getMessage());
    assertTrue(e.getMessage().contains("unrecognized configuration parameter \"no_such_setting\""), e.getMessage());
    assertTrue(e.getMessage().endsWith("(exit code 4)"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }

  @Test
  void aMissingCliNamesTheVariable() {
    PgUnitTestsException e = assertThrows(PgUnitTestsException.class,
        () -> PgServer.start(new PgServer.Options().cli("/nonexistent/pg_unit_tests")));
    assertEquals(127, e.exitCode());
    assertTrue(e.getMessage().contains("PG_UNIT_TESTS_CLI"));
  }

  @Test
  void theJsonOfStartIsReadWithEscapesAndNestedValues() {
    Map<String, String> m = Cli.FlatJson.parse(
        "{\"uri\":\"postgresql://u@/d?host=%2Fx\",\"port\":5432,\"s\":\"a\\\"b\\\\c\\u00e9\",\"n\":{\"k\":[1,\"}\"]},\"z\":null}");
    assertEquals("postgresql://u@/d?host=%2Fx", m.get("uri"));
    assertEquals("5432", m.get("port"));
    assertEquals("a\"b\\c\u00e9", m.get("s"));
    assertEquals("{\"k\":[1,\"}\"]}", m.get("n"));
    assertTrue(m.containsKey("z"));
  }

  @Test
  void aServerDiesWithItsOwnerEvenBySigkill() throws Exception {
    Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), OwnerMain.class.getName())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String directory;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      directory = out.readLine();
      child.destroyForcibly(); // SIGKILL
      child.waitFor();
    }
    assertTrue(directory != null && !directory.isEmpty(), "the child started no server");
    assertTrue(Support.eventually(() -> !Files.exists(Path.of(directory))),
        "the server of a killed owner is still there: " + directory);
  }

  /** The owner of {@link #aServerDiesWithItsOwnerEvenBySigkill}: starts a server and waits to be killed. */
  public static final class OwnerMain {
    public static void main(String[] args) throws InterruptedException {
      System.out.println(PgServer.start(new PgServer.Options()).directory());
      System.out.flush();
      Thread.sleep(120_000);
    }
  }
}
