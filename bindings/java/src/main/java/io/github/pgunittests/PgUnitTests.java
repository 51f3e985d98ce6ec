package io.github.pgunittests;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Registers {@link PgUnitTestsExtension} and configures the server of the annotated test class.
 * Classes with the same configuration share one server in a test run. Paths are relative to the
 * working directory (the module's directory under Maven).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(PgUnitTestsExtension.class)
public @interface PgUnitTests {
  /** SQL files or directories of them (name order) that migrate the server's database, once per change. */
  String[] init() default {};

  /** A migration command (flyway, liquibase, ...) run once per change, with DATABASE_URL and PG* set. */
  String initCommand() default "";

  /** The files or directories the migration command reads (its migrations): their content decides when it runs again. */
  String[] initKey() default {};

  /** PGXS extensions to serve from their build trees. */
  String[] extensions() default {};

  /** CREATE EXTENSION these in the server's database. */
  String[] create() default {};

  /** Server settings, {@code "name=value"}. */
  String[] settings() default {};
}
