-- 0014_sessions: the dashboard's sign-in sessions (docs/dashboard.md), kept
-- in the database so that every controller sharing it honours a session
-- another one issued, and sessions outlive a controller's restart.
--
-- Applied by the controller's migrator inside one transaction (no
-- BEGIN/COMMIT here).
--
-- Only the SHA-256 of a session id is stored (the id itself is the
-- cookie's secret). A session belongs to the API token it was made from;
-- it ends with the token's row, and the controller ends it when the token
-- is revoked. Expired rows are deleted in small batches as new sessions
-- are made.
CREATE TABLE dashboard_sessions (
  id_sha256   text PRIMARY KEY
              CONSTRAINT dashboard_sessions_sha256_hex
              CHECK (id_sha256 ~ '^[0-9a-f]{64}$'),
  token_id    bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  CONSTRAINT dashboard_sessions_expire_after_creation
    CHECK (expires_at > created_at)
);

CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_token_id ON dashboard_sessions (token_id);
