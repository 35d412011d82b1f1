// The webhook service of the driver matrix, on the PostgreSQL JDBC driver and JDK's HTTP server.
// Arguments: broken|fixed, then any extra JDBC URL parameters (e.g. prepareThreshold=1).
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

public class Service {
  static Connection conn;
  static boolean fixed;

  public static void main(String[] args) throws Exception {
    fixed = args.length > 0 && args[0].equals("fixed");
    URI db = URI.create(System.getenv("DATABASE_URL"));
    StringBuilder url = new StringBuilder("jdbc:postgresql://" + db.getHost() + ":" + db.getPort() + db.getPath());
    String[] user = db.getUserInfo() == null ? new String[] {"postgres"} : db.getUserInfo().split(":", 2);
    url.append("?user=").append(user[0]);
    if (user.length > 1) url.append("&password=").append(user[1]);
    for (int i = 1; i < args.length; i++) url.append('&').append(args[i]);
    // One connection, as the incident's service had; the handler is synchronized on it.
    conn = DriverManager.getConnection(url.toString());
    conn.setAutoCommit(false);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(System.getenv("PORT"))), 0);
    server.createContext("/healthz", ex -> reply(ex, 200));
    server.createContext("/webhooks/stripe", ex -> {
      Map<?, ?> ev = (Map<?, ?>) new Json(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)).value();
      Map<?, ?> details = (Map<?, ?>) ((Map<?, ?>) ((Map<?, ?>) ev.get("data")).get("object")).get("customer_details");
      int status;
      synchronized (conn) {
        status = handle((String) ev.get("id"), (String) ev.get("type"), (String) details.get("email"));
      }
      reply(ex, status);
    });
    server.start();
  }

  static int handle(String eventId, String type, String email) {
    try (PreparedStatement select = conn.prepareStatement("SELECT id, credits_balance FROM users WHERE email = ?")) {
      select.setString(1, email);
      select.executeQuery().close();
    } catch (SQLException e) {
      System.err.println("select user: " + e.getMessage());
      if (fixed) {
        try {
          // The transaction is aborted: roll back and go on without the column.
          conn.rollback();
          try (PreparedStatement again = conn.prepareStatement("SELECT id FROM users WHERE email = ?")) {
            again.setString(1, email);
            again.executeQuery().close();
          }
        } catch (SQLException e2) {
          return fail(e2);
        }
      }
    }
    try (PreparedStatement insert = conn.prepareStatement("INSERT INTO webhook_events (event_id, type) VALUES (?, ?)")) {
      insert.setString(1, eventId);
      insert.setString(2, type);
      insert.executeUpdate();
    } catch (SQLException e) {
      System.err.println("insert event: " + e.getMessage());
      if (fixed) return fail(e);
    }
    try {
      conn.commit();
    } catch (SQLException e) {
      System.err.println("commit: " + e.getMessage());
      if (fixed) return fail(e);
    }
    return 200;
  }

  static int fail(SQLException e) {
    System.err.println("webhook failed: " + e.getMessage());
    try {
      conn.rollback();
    } catch (SQLException ignored) {
      // the connection is gone; the next request reports it
    }
    return 500;
  }

  static void reply(HttpExchange ex, int status) throws IOException {
    ex.sendResponseHeaders(status, -1);
    ex.close();
  }

  /** Just enough JSON for a webhook body: objects, arrays, strings, numbers, literals. */
  static class Json {
    final String s;
    int i;

    Json(String s) {
      this.s = s;
    }

    Object value() {
      skip();
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new HashMap<>();
        i++;
        for (skip(); s.charAt(i) != '}'; skip()) {
          String k = (String) value();
          skip();
          i++; // ':'
          m.put(k, value());
          skip();
          if (s.charAt(i) == ',') i++;
        }
        i++;
        return m;
      }
      if (c == '[') {
        java.util.List<Object> l = new java.util.ArrayList<>();
        i++;
        for (skip(); s.charAt(i) != ']'; skip()) {
          l.add(value());
          skip();
          if (s.charAt(i) == ',') i++;
        }
        i++;
        return l;
      }
      if (c == '"') {
        StringBuilder b = new StringBuilder();
        for (i++; s.charAt(i) != '"'; i++) {
          char d = s.charAt(i);
          if (d != '\\') {
            b.append(d);
            continue;
          }
          d = s.charAt(++i);
          switch (d) {
            case 'n' -> b.append('\n');
            case 't' -> b.append('\t');
            case 'r' -> b.append('\r');
            case 'b' -> b.append('\b');
            case 'f' -> b.append('\f');
            case 'u' -> {
              b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
              i += 4;
            }
            default -> b.append(d);
          }
        }
        i++;
        return b.toString();
      }
      int start = i;
      while (i < s.length() && ",}] \t\r\n".indexOf(s.charAt(i)) < 0) i++;
      String lit = s.substring(start, i);
      return switch (lit) {
        case "null" -> null;
        case "true" -> true;
        case "false" -> false;
        default -> Double.valueOf(lit);
      };
    }

    void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }
  }
}
