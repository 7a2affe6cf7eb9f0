-- The Omr state database, schema version 1 (documented in about_Omr_State).
-- Times are ISO 8601 UTC text (yyyy-MM-ddTHH:mm:ss.fffZ); lists are comma-separated text.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE runs (
  run_id       INTEGER PRIMARY KEY,
  run_guid     TEXT NOT NULL UNIQUE,
  command      TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  ended_at     TEXT,
  status       TEXT NOT NULL,
  computer     TEXT,
  user_name    TEXT,
  parameters   TEXT,
  result_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE results (
  result_id     INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  domain        TEXT NOT NULL,
  address       TEXT NOT NULL,
  port          INTEGER NOT NULL,
  computer_name TEXT,
  target        TEXT,
  preference    INTEGER,
  is_mx_address INTEGER,
  mx_hosts      TEXT,
  verdict       TEXT NOT NULL,
  reason_code   TEXT NOT NULL,
  reason        TEXT NOT NULL,
  change        TEXT,
  open_since    TEXT,
  relayed_by    TEXT,
  proof         TEXT NOT NULL,
  probe_id      TEXT NOT NULL,
  tls           TEXT,
  banner        TEXT,
  verified_with TEXT,
  start_time    TEXT NOT NULL,
  duration_ms   INTEGER NOT NULL,
  transcript    TEXT
);
CREATE INDEX results_key ON results(domain, address, port, result_id);
CREATE INDEX results_time ON results(start_time);
CREATE INDEX results_probe ON results(probe_id);
CREATE TABLE notices (
  notice_row      INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL,
  status          TEXT NOT NULL,
  domain          TEXT NOT NULL,
  address         TEXT NOT NULL,
  port            INTEGER NOT NULL,
  computer_name   TEXT,
  probe_id        TEXT,
  recipients      TEXT,
  cc              TEXT,
  message_id      TEXT,
  notice_id       TEXT,
  time            TEXT NOT NULL,
  run             TEXT,
  case_open_since TEXT
);
CREATE INDEX notices_key ON notices(domain, address, port, time);
CREATE INDEX notices_time ON notices(time);
