-- 0002_history_and_audit: rule versions, the audit log, and token names
-- that can be reused once revoked.
--
-- Applied by the controller's migrator inside one transaction (no
-- BEGIN/COMMIT here). 0001 is never edited; later changes get new files.

-- Refuses any change to an append-only table. Statement-level, so it fires
-- even when no row matches; TRUNCATE included.
CREATE FUNCTION sluice_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is refused: the table is append-only',
    TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'rows are only ever inserted; correct a mistake with a new change';
END
$$;

-- One row per version of a rule, written in the same transaction as the
-- change. No foreign key to rules: the history outlives the rule. The
-- columns mirror rules (and its CHECKs) so a row always reads back as a
-- valid rule; a 'delete' row holds the rule as it was when deleted.
CREATE TABLE rule_versions (
  rule_id      bigint NOT NULL,
  version      bigint NOT NULL CHECK (version >= 1),
  action       text NOT NULL
               CONSTRAINT rule_versions_action_valid
               CHECK (action IN ('create', 'update', 'delete', 'baseline')),
  changed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  name         text NOT NULL,
  domain       text NOT NULL,
  match        jsonb NOT NULL
               CONSTRAINT rule_versions_match_valid
               CHECK (sluice_match_is_valid(match)),
  limit_tokens bigint NOT NULL
               CHECK (limit_tokens BETWEEN 1 AND 9007199254740992),
  period_ms    bigint NOT NULL CHECK (period_ms BETWEEN 1 AND 31536000000),
  burst        bigint NOT NULL CHECK (burst BETWEEN 1 AND 9007199254740992),
  mode         text NOT NULL CHECK (mode IN ('enforce', 'shadow')),
  failure_mode text NOT NULL
               CHECK (failure_mode IN ('open', 'closed', 'local')),
  enabled      boolean NOT NULL,
  PRIMARY KEY (rule_id, version)
);

-- Rules that existed before this migration start their history here.
INSERT INTO rule_versions (rule_id, version, action, changed_at, actor, name,
                           domain, match, limit_tokens, period_ms, burst,
                           mode, failure_mode, enabled)
SELECT id, version, 'baseline', updated_at, 'migration 0002', name, domain,
       match, limit_tokens, period_ms, burst, mode, failure_mode, enabled
  FROM rules;

CREATE TRIGGER rule_versions_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON rule_versions
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON rule_versions FROM PUBLIC;

-- Every change to rules, tokens and agent keys, written in the same
-- transaction as the change. Writers hold an advisory lock from before
-- their first row until commit (controller/store/audit_log.h), so ids increase in
-- commit order and paging by id misses nothing.
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- The token's name; "controller" for changes the controller makes itself.
  actor          text NOT NULL,
  actor_token_id bigint,
  -- "rule.create", "rule.update", "rule.delete", "token.create",
  -- "token.revoke", later "agent_key.*".
  action         text NOT NULL
                 CONSTRAINT audit_log_action_form
                 CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
  target_kind    text NOT NULL,  -- "rule", "token", "agent_key"
  target_id      bigint NOT NULL,
  target_name    text NOT NULL,
  before         jsonb,          -- null when created
  after          jsonb           -- null when deleted
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- A revoked token's name may be given to a new token: names are unique
-- among unrevoked tokens only.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_name_key;
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name)
  WHERE revoked_at IS NULL;
ALTER TABLE api_tokens ADD COLUMN created_by text NOT NULL DEFAULT 'controller';
