-- 0001_init: the rules, the global rule-set revision, and API tokens.
--
-- Applied by the controller's migrator inside one transaction (so this file
-- must not contain BEGIN/COMMIT). The CHECK constraints mirror the
-- validation in common/rule_json.h, so that a row written by any client is
-- one the controller can load.

-- Is `m` a valid rule match: an object of at most 16 string values, keys
-- 1..128 bytes, values 1..256 bytes, neither with spaces or control
-- characters (common/rule_json.h kMaxMatchKeys and friends).
CREATE FUNCTION sluice_match_is_valid(m jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE
    WHEN jsonb_typeof(m) <> 'object' THEN false
    ELSE (SELECT count(*) <= 16 FROM jsonb_each(m))
     AND NOT EXISTS (
       SELECT 1 FROM jsonb_each(m) AS e(k, v)
        WHERE jsonb_typeof(v) <> 'string'
           OR octet_length(k) NOT BETWEEN 1 AND 128
           OR octet_length(v #>> '{}') NOT BETWEEN 1 AND 256
           OR k ~ '[[:space:][:cntrl:]]'
           OR (v #>> '{}') ~ '[[:space:][:cntrl:]]')
  END
$$;

CREATE TABLE rules (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL UNIQUE
               CONSTRAINT rules_name_valid
               CHECK (name ~ '^[A-Za-z0-9_.:/-]{1,128}$'),
  domain       text NOT NULL
               CONSTRAINT rules_domain_valid
               CHECK (domain ~ '^[A-Za-z0-9_.:/-]{1,128}$'),
  match        jsonb NOT NULL DEFAULT '{}'
               CONSTRAINT rules_match_valid
               CHECK (sluice_match_is_valid(match)),
  -- "limit" is an SQL keyword: the JSON field "limit" is stored here.
  limit_tokens bigint NOT NULL
               CONSTRAINT rules_limit_range
               CHECK (limit_tokens BETWEEN 1 AND 9007199254740992),
  period_ms    bigint NOT NULL
               CONSTRAINT rules_period_range
               CHECK (period_ms BETWEEN 1 AND 31536000000),
  burst        bigint NOT NULL
               CONSTRAINT rules_burst_range
               CHECK (burst BETWEEN 1 AND 9007199254740992),
  mode         text NOT NULL DEFAULT 'enforce'
               CONSTRAINT rules_mode_valid
               CHECK (mode IN ('enforce', 'shadow')),
  failure_mode text NOT NULL DEFAULT 'local'
               CONSTRAINT rules_failure_mode_valid
               CHECK (failure_mode IN ('open', 'closed', 'local')),
  enabled      boolean NOT NULL DEFAULT true,
  -- Bumped on every change of this rule.
  version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The version of the whole rule set, sent to agents. Exactly one row;
-- bumped in the same transaction as every change to `rules`.
CREATE TABLE rules_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision  bigint NOT NULL CHECK (revision >= 1)
);
INSERT INTO rules_state (singleton, revision) VALUES (true, 1);

-- Bearer tokens for the REST API. Only the SHA-256 of a token is stored
-- (lower-case hex); the secret is shown once, when it is created.
CREATE TABLE api_tokens (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL UNIQUE
               CONSTRAINT api_tokens_name_valid
               CHECK (name ~ '^[A-Za-z0-9_.:/-]{1,128}$'),
  role         text NOT NULL
               CONSTRAINT api_tokens_role_valid
               CHECK (role IN ('admin', 'editor', 'viewer')),
  token_sha256 text NOT NULL UNIQUE
               CONSTRAINT api_tokens_sha256_hex
               CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
