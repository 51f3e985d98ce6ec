package io.github.pgunittests;

import java.net.URI;

/**
 * A database of its own on a server ({@code pg_unit_tests createdb}); {@link #close()} drops it,
 * ending its sessions. The extension injects a fresh one into each test method.
 */
public final class PgDatabase implements AutoCloseable {
  private final PgServer server;
  private final String uri;
  private final String name;
  private volatile boolean dropped;

  PgDatabase(PgServer server, String uri) {
    this.server = server;
    this.uri = uri;
    this.name = URI.create(uri).getPath().substring(1);
  }

  /** The libpq URI of the database. */
  public String uri() {
    return uri;
  }

  /** {@code jdbc:postgresql://127.0.0.1:PORT/NAME?user=…&password=…}: the server's {@link PgServer#jdbcUrl()} for this database. */
  public String jdbcUrl() {
    return server.jdbcUrl(name);
  }

  public String host() {
    return server.host();
  }

  public int port() {
    return server.port();
  }

  public String user() {
    return server.user();
  }

  public String password() {
    return server.password();
  }

  /** The database's name. */
  public String name() {
    return name;
  }

  public PgServer server() {
    return server;
  }

  /** The clock of every session of this database. */
  public PgClock clock() {
    return new PgClock(server.cli(), uri);
  }

  /** Drops the database, ending the sessions still connected to it; once. */
  @Override
  public synchronized void close() {
    if (dropped) return;
    dropped = true;
    Cli.dropdb(server.cli(), uri);
  }

  @Override
  public String toString() {
    return "PgDatabase(" + name + ")";
  }
}
