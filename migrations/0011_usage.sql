-- 0011_usage: usage analytics (docs/analytics.md): exact decision counts per
-- rule per minute and per hour, the heaviest clients per rule per minute and
-- per hour, and the agents' usage reports already counted.
--
-- Applied by the controller's migrator inside one transaction (no
-- BEGIN/COMMIT here).
--
-- Times are Unix milliseconds (bigint) at the start of the minute or hour.
-- No foreign key to rules: the counts outlive a deleted rule until they
-- age out. Old rows are removed by the controller in bounded batches
-- (controller/store/usage_store.h, Prune), never by one long DELETE; the
-- indexes on t_ms make each batch an index range scan.

CREATE TABLE usage_minute (
  rule_id        bigint NOT NULL,
  t_ms           bigint NOT NULL CHECK (t_ms % 60000 = 0),
  allowed        bigint NOT NULL DEFAULT 0 CHECK (allowed >= 0),
  refused        bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
  shadow_refused bigint NOT NULL DEFAULT 0 CHECK (shadow_refused >= 0),
  PRIMARY KEY (rule_id, t_ms)
);
CREATE INDEX usage_minute_t ON usage_minute (t_ms);

CREATE TABLE usage_hour (
  rule_id        bigint NOT NULL,
  t_ms           bigint NOT NULL CHECK (t_ms % 3600000 = 0),
  allowed        bigint NOT NULL DEFAULT 0 CHECK (allowed >= 0),
  refused        bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
  shadow_refused bigint NOT NULL DEFAULT 0 CHECK (shadow_refused >= 0),
  PRIMARY KEY (rule_id, t_ms)
);
CREATE INDEX usage_hour_t ON usage_hour (t_ms);

-- The heaviest clients: one merged Space-Saving summary (common/
-- heavy_hitters.h) per rule, period and ranking ('refused' or 'allowed'),
-- as {"capacity": n, "floor": n, "total": n, "entries": [[key, count,
-- error, other], ...]}; a key is the JSON array of the bucket's wildcard
-- values.
CREATE TABLE usage_top_minute (
  rule_id  bigint NOT NULL,
  t_ms     bigint NOT NULL CHECK (t_ms % 60000 = 0),
  by       text NOT NULL CHECK (by IN ('refused', 'allowed')),
  summary  jsonb NOT NULL,
  PRIMARY KEY (rule_id, t_ms, by)
);
CREATE INDEX usage_top_minute_t ON usage_top_minute (t_ms);

CREATE TABLE usage_top_hour (
  rule_id  bigint NOT NULL,
  t_ms     bigint NOT NULL CHECK (t_ms % 3600000 = 0),
  by       text NOT NULL CHECK (by IN ('refused', 'allowed')),
  summary  jsonb NOT NULL,
  PRIMARY KEY (rule_id, t_ms, by)
);
CREATE INDEX usage_top_hour_t ON usage_top_hour (t_ms);

-- Every usage report counted, by agent, incarnation (a number the agent
-- draws at start) and sequence: inserted in the same transaction as its
-- counts, so a report sent again (its acknowledgement was lost) is
-- recognised and not counted twice.
CREATE TABLE usage_reports (
  agent_id     text NOT NULL,
  incarnation  bigint NOT NULL,
  seq          bigint NOT NULL,
  received_ms  bigint NOT NULL,
  PRIMARY KEY (agent_id, incarnation, seq)
);
CREATE INDEX usage_reports_received ON usage_reports (received_ms);
