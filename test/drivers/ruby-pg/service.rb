# The webhook service of the driver matrix, on Ruby's pg (libpq) and WEBrick.
require "json"
require "pg"
require "webrick"

FIXED = ARGV[0] == "fixed"
# One connection, as the incident's service had; WEBrick's request threads take turns on it.
CONN = PG.connect(ENV.fetch("DATABASE_URL"))
LOCK = Mutex.new

SELECT_WITH_BALANCE = "SELECT id, credits_balance FROM users WHERE email = $1"
INSERT_EVENT = "INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)"

# The incident: each error is logged and swallowed, and the transaction goes on.
def record_broken(event, email)
  CONN.transaction do
    begin
      CONN.exec_params(SELECT_WITH_BALANCE, [email])
    rescue PG::Error => e
      warn "select user: #{e.message}"
    end
    begin
      CONN.exec_params(INSERT_EVENT, [event["id"], event["type"]])
    rescue PG::Error => e
      warn "insert event: #{e.message}"
    end
  end
end

# The hotfix: the missing column ends the transaction (transaction's ROLLBACK) and a fresh one goes
# on without it; any other error rolls back and reaches the handler as a 500.
def record_fixed(event, email)
  CONN.transaction do
    CONN.exec_params(SELECT_WITH_BALANCE, [email])
    CONN.exec_params(INSERT_EVENT, [event["id"], event["type"]])
  end
rescue PG::UndefinedColumn => e
  warn "select user: #{e.message}"
  CONN.transaction do
    CONN.exec_params("SELECT id FROM users WHERE email = $1", [email])
    CONN.exec_params(INSERT_EVENT, [event["id"], event["type"]])
  end
end

server = WEBrick::HTTPServer.new(
  BindAddress: "127.0.0.1", Port: Integer(ENV.fetch("PORT")),
  AccessLog: [], Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN)
)
server.mount_proc("/healthz") { |_req, res| res.status = 200 }
server.mount_proc("/webhooks/stripe") do |req, res|
  event = JSON.parse(req.body)
  email = event.dig("data", "object", "customer_details", "email")
  LOCK.synchronize { FIXED ? record_fixed(event, email) : record_broken(event, email) }
  res.status = 200
rescue PG::Error => e
  warn "webhook #{event && event['id']}: #{e.message}"
  res.status = 500
end
trap("TERM") { server.shutdown }
server.start
