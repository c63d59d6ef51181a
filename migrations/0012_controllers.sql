-- Several controllers on one database (docs/high-availability.md).
--
-- Every running controller is a row here, keyed by its id (unique per
-- process), renewing heartbeat_at every 250 ms by the database's clock.
CREATE TABLE controllers (
  id            text PRIMARY KEY CHECK (id <> '' AND length(id) <= 256),
  endpoint      text NOT NULL CHECK (endpoint <> '' AND length(endpoint) <= 256),
  http          text NOT NULL,
  version       text NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- The controller set: one row, the version and the sorted list of live
-- members ([{"id": ..., "endpoint": ...}]), replaced with version + 1 under
-- the row's lock when the live members differ.
CREATE TABLE controller_set (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version     bigint NOT NULL CHECK (version >= 0),
  members     jsonb NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO controller_set (version, members) VALUES (0, '[]');
