-- 0010_agent_keys: the CurveZMQ public keys of the agents allowed on the
-- agent channel (docs/operations.md, "Security of the agent channel"),
-- managed through /api/v1/agent-keys.
--
-- Applied by the controller's migrator inside one transaction (no
-- BEGIN/COMMIT here). Versions 0002-0009 belong to the control plane; this
-- file needs nothing from them.
--
-- A key is allowed while revoked_at is NULL. Revoking keeps the row (and the
-- audit log says who did it); a revoked public key can never be added again
-- (public_key is unique over all rows): a leaked key stays out, and the
-- agent gets a new keypair instead.
CREATE TABLE agent_keys (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL
              CONSTRAINT agent_keys_name_valid
              CHECK (name ~ '^[A-Za-z0-9_.:/-]{1,128}$'),
  -- 32 bytes as 40 characters of Z85 (ZeroMQ RFC 32); the controller checks
  -- that the characters also decode (platform/curve_keys.h).
  public_key  text NOT NULL UNIQUE
              CONSTRAINT agent_keys_public_key_z85
              CHECK (public_key ~ '^[]0-9a-zA-Z.:+=^!/*?&<>()[{}@%$#-]{40}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  CONSTRAINT agent_keys_revoked_after_created
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

-- Names identify agents in logs: unique among the keys still allowed.
CREATE UNIQUE INDEX agent_keys_active_name ON agent_keys (name)
  WHERE revoked_at IS NULL;
