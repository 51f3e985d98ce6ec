// Unit tests (no server): `start --env` lines, which a shell's eval must read back exactly.
#include <gtest/gtest.h>

#include "cli/commands.hpp"

using pg_unit_tests::cli::shell_exports;

TEST(ShellExports, QuotesEveryValueAndUnsetsEmptyOnes) {
  EXPECT_EQ(shell_exports({{"PGHOST", "/dev/shm/a b"}, {"PGPASSWORD", ""}}),
            "export PGHOST='/dev/shm/a b'\nunset PGPASSWORD\n");
  // A single quote ends the quoting, is escaped, and quoting resumes; $ and ` stay literal.
  EXPECT_EQ(shell_exports({{"X", "it's $HOME `id`"}}), "export X='it'\\''s $HOME `id`'\n");
}
