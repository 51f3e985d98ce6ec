package io.github.pgunittests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The one class that runs the pg_unit_tests command line. Every harness feature (servers, migrated
 * templates, per-test databases, the database clock) lives in the CLI; this class turns Java
 * arguments into its arguments and its failures into {@link PgUnitTestsException}. When the CLI grows
 * or renames an option, this is the place to adapt.
 */
final class Cli {
  static final String ENV_CLI = "PG_UNIT_TESTS_CLI";
  static final String PROPERTY_CLI = "pg_unit_tests.cli";

  private Cli() {}

  /** {@code explicit}, else the system property pg_unit_tests.cli, else $PG_UNIT_TESTS_CLI, else pg_unit_tests on PATH. */
  static String find(String explicit) {
    String wanted = firstNonEmpty(explicit, System.getProperty(PROPERTY_CLI), System.getenv(ENV_CLI), "pg_unit_tests");
    if (wanted.contains("/")) {
      if (Files.isExecutable(Path.of(wanted))) return wanted;
    } else {
      for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
        if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, wanted))) return Path.of(dir, wanted).toString();
      }
    }
    throw new PgUnitTestsException("pg_unit_tests: the command '" + wanted + "' was not found: install pg_unit_tests "
        + "(make install) or set " + ENV_CLI + " (or -D" + PROPERTY_CLI + "=) to its path", 127, List.of(wanted));
  }

  private static String firstNonEmpty(String... values) {
    for (String v : values) if (v != null && !v.isEmpty()) return v;
    return "";
  }

  /** Runs the CLI and returns its standard output. */
  static String run(String cli, List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(cli);
    command.addAll(args);
    try {
      Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
      p.getOutputStream().close();
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
      String out = read(p.getInputStream());
      int code = p.waitFor();
      if (code == 0) return out;
      String message = cli + " exited with status " + code;
      for (String line : err.join().split("\n")) if (!line.isBlank()) message = line.strip();
      throw new PgUnitTestsException(message, code, command);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    }
  }

  private static String read(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // One -o word: the CLI's -o parser (pg_ctl style) unescapes \\ and \" inside double quotes.
  private static String quoteSetting(String setting) {
    return "-c \"" + setting.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** {@code start --json}: the server's connection details. */
  static Map<String, String> start(String cli, PgServer.Options o, long owner) {
    List<String> args = new ArrayList<>(List.of("start", "--json"));
    if (o.tcp) args.add("--tcp");
    for (String p : o.init) args.add("--init=" + p);
    if (!o.initCommand.isEmpty()) args.add("--init-command=" + o.initCommand);
    for (String p : o.initKey) args.add("--init-key=" + p);
    for (String d : o.extensions) args.add("--extension=" + d);
    // The clock (`clock`) works in databases with the extension: made in the server's database, it
    // is in every database cloned from it.
    args.add("--create=pg_unit_tests");
    for (String n : o.create) if (!n.equals("pg_unit_tests")) args.add("--create=" + n);
    for (String s : o.settings) args.add("--options=" + quoteSetting(s));
    if (!o.pgConfig.isEmpty()) args.add("--pg-config=" + o.pgConfig);
    // The server goes when the owner process ends, however it ends; no idle timeout applies.
    if (owner != 0) args.add("--owner=" + owner);
    return FlatJson.parse(run(cli, args));
  }

  static void stop(String cli, String uri) {
    run(cli, List.of("stop", uri));
  }

  /**
   * A fresh database from the server's pool of clones (of {@code template}, else of the server's
   * migrated database), dropped when the process {@code owner} ends if not before; its URI.
   */
  static String createdb(String cli, String serverUri, String template, long owner, String label) {
    List<String> args = new ArrayList<>(List.of("createdb", "--uri=" + serverUri, "--owner=" + owner));
    if (template != null && !template.isEmpty()) args.add("--template=" + template);
    if (label != null && !label.isEmpty()) args.add("--label=" + label);
    return run(cli, args).strip();
  }

  static void dropdb(String cli, String uri) {
    run(cli, List.of("dropdb", uri));
  }

  /** {@code clock freeze|travel|advance|release}: the clock of every session of the URI's database. */
  static void clock(String cli, String uri, String action, String... value) {
    List<String> args = new ArrayList<>(List.of("clock", action, "--uri=" + uri));
    args.addAll(Arrays.asList(value));
    run(cli, args);
  }

  /**
   * The flat JSON object of {@code start --json} (strings and numbers). Written by hand because the
   * package depends on nothing beyond the JDK, which has no JSON parser.
   */
  static final class FlatJson {
    private final String s;
    private int i;

    private FlatJson(String s) {
      this.s = s;
    }

    static Map<String, String> parse(String text) {
      FlatJson p = new FlatJson(text.strip());
      Map<String, String> map = new LinkedHashMap<>();
      p.expect('{');
      p.space();
      if (p.peek() == '}') return map;
      while (true) {
        p.space();
        String key = p.string();
        p.space();
        p.expect(':');
        p.space();
        map.put(key, p.value());
        p.space();
        if (p.peek() == ',') {
          p.i++;
          continue;
        }
        p.expect('}');
        return map;
      }
    }

    private char peek() {
      if (i >= s.length()) throw new IllegalArgumentException("unexpected end of pg_unit_tests' JSON: " + s);
      return s.charAt(i);
    }

    private void expect(char c) {
      if (peek() != c) throw new IllegalArgumentException("expected '" + c + "' at " + i + " of pg_unit_tests' JSON: " + s);
      i++;
    }

    private void space() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private String value() {
      if (peek() == '"') return string();
      int start = i;
      if (peek() == '{' || peek() == '[') {
        skipNested(); // kept as raw JSON: the fields read here are flat
        return s.substring(start, i);
      }
      while (i < s.length() && ",}".indexOf(s.charAt(i)) < 0 && !Character.isWhitespace(s.charAt(i))) i++;
      String literal = s.substring(start, i);
      return literal.equals("null") ? null : literal;
    }

    private void skipNested() {
      int depth = 0;
      do {
        char c = peek();
        if (c == '"') {
          string();
          continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') depth--;
        i++;
      } while (depth > 0);
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (peek() != '"') {
        char c = s.charAt(i++);
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = s.charAt(i++);
        switch (e) {
          case 'n': b.append('\n'); break;
          case 't': b.append('\t'); break;
          case 'r': b.append('\r'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
          default: b.append(e);
        }
      }
      i++;
      return b.toString();
    }
  }
}
