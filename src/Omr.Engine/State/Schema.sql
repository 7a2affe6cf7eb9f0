-- The Omr state database, schema version 4 (documented in about_Omr_State).
-- Times are ISO 8601 UTC text (yyyy-MM-ddTHH:mm:ss.fffZ); lists are comma-separated text.
-- Every statement is IF NOT EXISTS: a file of an earlier version is upgraded by running this script again
-- (StateDatabase.Migrate), so the schema is written down once.
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
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
CREATE TABLE IF NOT EXISTS results (
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
  transcript    TEXT,
  listings      TEXT,
  software      TEXT
);
CREATE INDEX IF NOT EXISTS results_key ON results(domain, address, port, result_id);
CREATE INDEX IF NOT EXISTS results_time ON results(start_time);
CREATE INDEX IF NOT EXISTS results_probe ON results(probe_id);
-- Version 2, the morning report: a run's results by verdict and change (the current run's counts, the trend
-- per run, the cases closed in a window) are index seeks, not scans of every result.
CREATE INDEX IF NOT EXISTS results_run ON results(run_id, verdict, change);
-- The rows that carry an open case (the report's open cases and reminders): a few per cent of all results.
CREATE INDEX IF NOT EXISTS results_case ON results(domain, address, port, result_id) WHERE open_since IS NOT NULL;
CREATE TABLE IF NOT EXISTS notices (
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
CREATE INDEX IF NOT EXISTS notices_key ON notices(domain, address, port, time);
CREATE INDEX IF NOT EXISTS notices_time ON notices(time);
-- Version 2: runs by command and start (the report's current run and its trend window).
CREATE INDEX IF NOT EXISTS runs_command ON runs(command, started_at);
