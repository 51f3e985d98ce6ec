package io.github.pgunittests;

import java.util.concurrent.Callable;

final class Support {
  private Support() {}

  /** Whether check becomes true within 20 s: for what the harness does in the background. */
  static boolean eventually(Callable<Boolean> check) throws Exception {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!check.call()) {
      if (System.nanoTime() > deadline) return false;
      Thread.sleep(50);
    }
    return true;
  }
}
