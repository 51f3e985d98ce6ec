package com.example.orders;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** The application: it talks to PostgreSQL through its own connection pool. */
public final class Orders {
  private final DataSource pool;

  public Orders(DataSource pool) {
    this.pool = pool;
  }

  /** The application's pool; it opens its connections at once and keeps them. */
  public static HikariDataSource pool(String jdbcUrl, String user, String password) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setMinimumIdle(2);
    config.setMaximumPoolSize(4);
    return new HikariDataSource(config);
  }

  public long place(String customer) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement s = c.prepareStatement("INSERT INTO orders (customer) VALUES (?) RETURNING id")) {
      s.setString(1, customer);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getLong(1);
      }
    }
  }

  /** Marks open orders older than 30 days overdue; returns their ids. */
  public List<Long> markOverdue() throws SQLException {
    List<Long> ids = new ArrayList<>();
    try (Connection c = pool.getConnection();
        PreparedStatement s = c.prepareStatement("SELECT id FROM mark_overdue_orders() AS id ORDER BY id");
        ResultSet r = s.executeQuery()) {
      while (r.next()) ids.add(r.getLong(1));
    }
    return ids;
  }
}
