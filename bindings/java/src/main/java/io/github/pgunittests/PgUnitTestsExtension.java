package io.github.pgunittests;

import java.lang.reflect.Executable;
import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * A JUnit 5 extension that injects {@link PgDatabase} (a fresh database per test method, dropped
 * after it), {@link PgClock} (the clock of that database, released after the test) and {@link
 * PgServer} (one per configuration and test run; it stops when the run ends, and with the JVM
 * however that ends). Servers listen on TCP: JDBC needs it.
 *
 * <pre>
 * &#64;ExtendWith(PgUnitTestsExtension.class)   // or &#64;PgUnitTests(init = "src/main/resources/db")
 * class OrdersTest {
 *   &#64;Test
 *   void overdue(PgDatabase db, PgClock clock) throws SQLException { ... }
 * }
 * </pre>
 */
public class PgUnitTestsExtension implements ParameterResolver {
  private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PgUnitTestsExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    if (type == PgServer.class) return true;
    Executable owner = parameter.getDeclaringExecutable();
    // A database and its clock belong to one test method (and its @BeforeEach/@AfterEach).
    return (type == PgDatabase.class || type == PgClock.class) && context.getTestMethod().isPresent()
        && !(owner instanceof java.lang.reflect.Constructor);
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    if (type == PgServer.class) return server(context);
    if (type == PgDatabase.class) return database(context);
    return clock(context);
  }

  private static PgServer server(ExtensionContext context) {
    PgServer.Options options = options(context);
    // In the root store: shared by every class with these options, closed at the end of the run.
    return (PgServer) context.getRoot().getStore(NAMESPACE)
        .getOrComputeIfAbsent(options, o -> Closing.of(PgServer.start(options)), Closing.class).value;
  }

  private static PgDatabase database(ExtensionContext context) {
    return (PgDatabase) context.getStore(NAMESPACE)
        .getOrComputeIfAbsent(PgDatabase.class, k -> Closing.of(server(context).createDatabase(null, label(context))), Closing.class).value;
  }

  private static PgClock clock(ExtensionContext context) {
    PgDatabase db = database(context); // stored first, so closed after the clock's release
    return (PgClock) context.getStore(NAMESPACE)
        .getOrComputeIfAbsent(PgClock.class, k -> {
          PgClock clock = db.clock();
          return new Closing(clock, clock::release);
        }, Closing.class).value;
  }

  // The database's name in `pg_unit_tests list`: the test method's.
  private static String label(ExtensionContext context) {
    return context.getRequiredTestClass().getSimpleName() + "." + context.getRequiredTestMethod().getName();
  }

  private static PgServer.Options options(ExtensionContext context) {
    PgServer.Options options = new PgServer.Options().tcp(true);
    Optional<PgUnitTests> config = context.getTestClass()
        .flatMap(c -> AnnotationSupport.findAnnotation(c, PgUnitTests.class));
    config.ifPresent(c -> options.init(c.init()).initCommand(c.initCommand()).initKey(c.initKey()).extensions(c.extensions())
        .create(c.create()).settings(c.settings()));
    return options;
  }

  /** A stored value that JUnit closes with its context (AutoCloseable since 5.13, CloseableResource before). */
  @SuppressWarnings("deprecation")
  static final class Closing implements ExtensionContext.Store.CloseableResource, AutoCloseable {
    final Object value;
    private final Runnable close;
    private boolean closed;

    Closing(Object value, Runnable close) {
      this.value = value;
      this.close = close;
    }

    static Closing of(AutoCloseable value) {
      return new Closing(value, () -> {
        try {
          value.close();
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
    }

    @Override
    public synchronized void close() {
      if (closed) return;
      closed = true;
      close.run();
    }
  }
}
