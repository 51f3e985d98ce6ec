package io.github.pgunittests;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A running server ({@code pg_unit_tests start}). It stops with {@link #close()}, and when this JVM
 * exits, however it exits. In JUnit tests, let {@link PgUnitTestsExtension} start it.
 */
public final class PgServer implements AutoCloseable {
  private final String cli;
  private final String uri;
  private final String host;
  private final int port;
  private final String user;
  private final String password;
  private final String database;
  private final String directory;
  private final String jdbcUrl;
  private volatile boolean stopped;

  private PgServer(String cli, Map<String, String> json) {
    this.cli = cli;
    this.uri = json.get("uri");
    this.host = json.get("host");
    this.port = Integer.parseInt(json.get("port"));
    this.user = json.get("user");
    this.password = Objects.requireNonNullElse(json.get("password"), "");
    this.database = json.get("database");
    this.directory = json.get("directory");
    this.jdbcUrl = Objects.requireNonNullElse(json.get("jdbc_url"), "");
  }

  /** Starts a server with these options. */
  public static PgServer start(Options options) {
    String cli = Cli.find(options.cli);
    return new PgServer(cli, Cli.start(cli, options, options.keep ? 0 : ProcessHandle.current().pid()));
  }

  /** The libpq URI of the server's own database. */
  public String uri() {
    return uri;
  }

  /**
   * {@code jdbc:postgresql://127.0.0.1:PORT/postgres?user=…&password=…}, as {@code start --json}
   * gives it with {@link Options#tcp} (JDBC has no Unix sockets); empty without.
   */
  public String jdbcUrl() {
    return jdbcUrl;
  }

  // The same URL for another database of this server: only the path differs.
  String jdbcUrl(String db) {
    if (jdbcUrl.isEmpty()) return "";
    int path = jdbcUrl.indexOf('/', "jdbc:postgresql://".length());
    int query = jdbcUrl.indexOf('?', path);
    return jdbcUrl.substring(0, path + 1) + db + (query < 0 ? "" : jdbcUrl.substring(query));
  }

  /** 127.0.0.1 with TCP, else the socket directory. */
  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  public String user() {
    return user;
  }

  /** Empty unless TCP. */
  public String password() {
    return password;
  }

  /** The server's own database (the template of {@link #createDatabase()}). */
  public String database() {
    return database;
  }

  /** The server's directory (socket, log, data); removed when it stops. */
  public String directory() {
    return directory;
  }

  String cli() {
    return cli;
  }

  /** A fresh database cloned from the server's migrated database. */
  public PgDatabase createDatabase() {
    return createDatabase(null);
  }

  /** A fresh database cloned from {@code template} (a database or a snapshot). */
  public PgDatabase createDatabase(String template) {
    return createDatabase(template, null);
  }

  // Owned by this JVM: dropped when it ends, however it ends, if not before.
  PgDatabase createDatabase(String template, String label) {
    return new PgDatabase(this, Cli.createdb(cli, uri, template, ProcessHandle.current().pid(), label));
  }

  /** Stops the server now and removes its files; once. */
  @Override
  public synchronized void close() {
    if (stopped) return;
    stopped = true;
    Cli.stop(cli, uri);
  }

  @Override
  public String toString() {
    return "PgServer(" + uri + ")";
  }

  /** What to start: every field is optional. */
  public static final class Options {
    boolean tcp;
    final List<String> init = new ArrayList<>();
    String initCommand = "";
    final List<String> initKey = new ArrayList<>();
    final List<String> extensions = new ArrayList<>();
    final List<String> create = new ArrayList<>();
    final List<String> settings = new ArrayList<>();
    String pgConfig = "";
    String cli;
    boolean keep;

    /** Also listen on 127.0.0.1 on a free port, with a random password (JDBC needs it). */
    public Options tcp(boolean value) {
      tcp = value;
      return this;
    }

    /** SQL files or directories of them (name order) that migrate the server's database, once per change. */
    public Options init(String... paths) {
      init.addAll(List.of(paths));
      return this;
    }

    /** A migration command (flyway, liquibase, ...) run once per change, with DATABASE_URL and PG* set. */
    public Options initCommand(String command) {
      initCommand = command;
      return this;
    }

    /** The files or directories the migration command reads (its migrations): their content decides when it runs again. */
    public Options initKey(String... paths) {
      initKey.addAll(List.of(paths));
      return this;
    }

    /** PGXS extensions to serve from their build trees. */
    public Options extensions(String... dirs) {
      extensions.addAll(List.of(dirs));
      return this;
    }

    /** CREATE EXTENSION these in the server's database. */
    public Options create(String... names) {
      create.addAll(List.of(names));
      return this;
    }

    /** Server settings, {@code "name=value"}. */
    public Options settings(String... nameValues) {
      for (String s : nameValues) {
        if (!s.contains("=")) throw new IllegalArgumentException("setting '" + s + "' is not name=value");
      }
      settings.addAll(List.of(nameValues));
      return this;
    }

    /** pg_config of the PostgreSQL installation to use. */
    public Options pgConfig(String path) {
      pgConfig = path;
      return this;
    }

    /** The pg_unit_tests command (default: -Dpg_unit_tests.cli, $PG_UNIT_TESTS_CLI, then PATH). */
    public Options cli(String path) {
      cli = path;
      return this;
    }

    /** Do not tie the server to this JVM: it runs until close() (or the CLI's idle timeout). */
    public Options keep(boolean value) {
      keep = value;
      return this;
    }

    /** Equal options share a server within a test run. */
    @Override
    public boolean equals(Object o) {
      return o instanceof Options && key().equals(((Options) o).key());
    }

    @Override
    public int hashCode() {
      return key().hashCode();
    }

    private List<Object> key() {
      return List.of(tcp, init, initCommand, initKey, extensions, create, settings, pgConfig, Objects.toString(cli), keep);
    }
  }
}
