package io.github.pgunittests;

import java.util.List;

/** The pg_unit_tests command failed: the message is its one line, {@link #exitCode()} its documented exit code. */
public final class PgUnitTestsException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;
  private final List<String> command;

  PgUnitTestsException(String message, int exitCode, List<String> command) {
    super(message + " (exit code " + exitCode + ")");
    this.exitCode = exitCode;
    this.command = List.copyOf(command);
  }

  /** The CLI's exit code (127: the command was not found). */
  public int exitCode() {
    return exitCode;
  }

  /** The command line that failed. */
  public List<String> command() {
    return command;
  }
}
