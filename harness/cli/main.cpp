// pg_unit_tests: the command-line tool (cli/app.cpp), a thin layer over the harness library.
#include "cli/app.hpp"

int main(int argc, char** argv) {
  return pg_unit_tests::cli::main(argc, argv);
}
