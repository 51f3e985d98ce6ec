package io.github.pgunittests;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;

/**
 * The clock of every session of one database, existing and new, from their next statement on: the
 * application's connection pool follows it too ({@code pg_unit_tests clock}). The extension
 * releases it after the test.
 */
public final class PgClock {
  private final String cli;
  private final String uri;

  PgClock(String cli, String uri) {
    this.cli = cli;
    this.uri = uri;
  }

  /** Time stands still at {@code at}. */
  public void freeze(Instant at) {
    Cli.clock(cli, uri, "freeze", at.toString());
  }

  /** Time stands still at {@code at}. */
  public void freeze(OffsetDateTime at) {
    freeze(at.toInstant());
  }

  /** Jumps to {@code to}; the clock keeps running from there. */
  public void travel(Instant to) {
    Cli.clock(cli, uri, "travel", to.toString());
  }

  /** Moves a frozen or travelled clock by {@code by} (elapsed time). */
  public void advance(Duration by) {
    long micros = by.getSeconds() * 1_000_000L + by.getNano() / 1_000;
    String sign = micros < 0 ? "-" : "";
    long abs = Math.abs(micros);
    Cli.clock(cli, uri, "advance", String.format("%s%d.%06d seconds", sign, abs / 1_000_000, abs % 1_000_000));
  }

  /** Moves the clock by a PostgreSQL interval ({@code "1 month"}: calendar arithmetic). */
  public void advance(String interval) {
    Cli.clock(cli, uri, "advance", interval);
  }

  /** Back to real time. */
  public void release() {
    Cli.clock(cli, uri, "release");
  }
}
