-- 0015_controller_beat: a controller's heartbeat (docs/high-availability.md,
-- controller/cluster/membership_store.h) as one function, so that a
-- heartbeat is one statement and one round trip to the database instead of
-- a transaction of about eight.
--
-- Applied by the controller's migrator inside one transaction (no
-- BEGIN/COMMIT here).
--
-- controller_beat() is called alone, outside BEGIN ... COMMIT: the
-- statement is its own transaction, and an error anywhere in it (a missing
-- controller_set row, a malformed members list) undoes all of it. A
-- volatile PL/pgSQL function takes a new snapshot for each statement, as
-- the READ COMMITTED transaction it replaces did. In order, by the
-- database's clock (clock_timestamp()):
--   1. upserts the controller's row (a known id renews heartbeat_at,
--      endpoint and http);
--   2. when replace_same_endpoint, deletes the other rows with its
--      endpoint (earlier incarnations of this controller);
--   3. deletes the rows silent for longer than forget_ms;
--   4. reads the live members (heartbeat at most dead_ms old) sorted by id
--      in byte order (COLLATE "C", as SortMembers in common/membership.h);
--   5. reads controller_set; when its members differ from the live ones,
--      locks the row, reads it again and, if they still differ, stores the
--      live members with version + 1;
--   6. reads rules_state.revision;
--   7. reads every row of controllers, by id.
-- It returns one jsonb object:
--   {"previous": {"version": n, "members": [{"id", "endpoint"}, ...]},
--    "stored": {"version": n, "members": [...]},
--    "replaced": true | false,
--    "rules_revision": n,
--    "rows": [{"id", "endpoint", "http", "version",
--              "started_at" (ISO 8601 UTC, milliseconds),
--              "heartbeat_age_ms"}, ...]}
-- "previous" is the set read first, "stored" the one in force after the
-- call.

-- controller_set.members as a list of exactly {"id", "endpoint"} objects in
-- their order, so that it compares equal to the live list when it names
-- the same members; raises unless every entry has string id and endpoint.
CREATE FUNCTION controller_set_members(members jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  entry jsonb;
BEGIN
  IF jsonb_typeof(members) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'controller_set.members is not a JSON array: %', members;
  END IF;
  FOR entry IN SELECT e FROM jsonb_array_elements(members) AS t(e) LOOP
    IF jsonb_typeof(entry) IS DISTINCT FROM 'object'
       OR jsonb_typeof(entry -> 'id') IS DISTINCT FROM 'string'
       OR jsonb_typeof(entry -> 'endpoint') IS DISTINCT FROM 'string' THEN
      RAISE EXCEPTION
        'controller_set.members holds an entry without string id and endpoint: %',
        entry;
    END IF;
  END LOOP;
  RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'id', t.e -> 'id',
                              'endpoint', t.e -> 'endpoint')
                            ORDER BY t.n), '[]'::jsonb)
          FROM jsonb_array_elements(members) WITH ORDINALITY AS t(e, n));
END;
$$;

CREATE FUNCTION controller_beat(
  self_id text, self_endpoint text, self_http text, self_version text,
  dead_ms bigint, forget_ms bigint, replace_same_endpoint boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  live jsonb;
  previous_version bigint;
  previous_members jsonb;
  stored_version bigint;
  stored_members jsonb;
  replaced boolean := false;
  rules_revision bigint;
  all_rows jsonb;
BEGIN
  INSERT INTO controllers AS c (id, endpoint, http, version, started_at,
                                heartbeat_at)
  VALUES (self_id, self_endpoint, self_http, self_version, clock_timestamp(),
          clock_timestamp())
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(),
    endpoint = EXCLUDED.endpoint, http = EXCLUDED.http;
  IF replace_same_endpoint THEN
    DELETE FROM controllers c
    WHERE c.endpoint = self_endpoint AND c.id <> self_id;
  END IF;
  DELETE FROM controllers c WHERE c.heartbeat_at <
    clock_timestamp() - forget_ms::double precision * interval '1 millisecond';

  SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id,
                                               'endpoint', c.endpoint)
                            ORDER BY c.id COLLATE "C"), '[]'::jsonb)
  INTO live
  FROM controllers c
  WHERE c.heartbeat_at >=
    clock_timestamp() - dead_ms::double precision * interval '1 millisecond';

  SELECT s.version, s.members INTO previous_version, previous_members
  FROM controller_set s;
  IF NOT FOUND THEN
    RAISE EXCEPTION
      'the controller_set row is missing (migration 0012 inserts it)';
  END IF;
  -- Equal as stored: well formed. Otherwise compare only id and endpoint.
  IF previous_members <> live THEN
    previous_members := controller_set_members(previous_members);
  END IF;
  stored_version := previous_version;
  stored_members := previous_members;
  IF stored_members <> live THEN
    -- The latest, under the lock.
    SELECT s.version, s.members INTO stored_version, stored_members
    FROM controller_set s FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION
        'the controller_set row is missing (migration 0012 inserts it)';
    END IF;
    IF stored_members <> live THEN
      stored_members := controller_set_members(stored_members);
    END IF;
    IF stored_members <> live THEN
      UPDATE controller_set SET version = version + 1, members = live,
        changed_at = clock_timestamp();
      stored_version := stored_version + 1;
      stored_members := live;
      replaced := true;
    END IF;
  END IF;

  SELECT r.revision INTO rules_revision FROM rules_state r;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the rules_state row is missing (migration 0001 inserts it)';
  END IF;

  SELECT coalesce(jsonb_agg(jsonb_build_object(
             'id', c.id, 'endpoint', c.endpoint, 'http', c.http,
             'version', c.version,
             'started_at', to_char(c.started_at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'heartbeat_age_ms',
             (extract(epoch FROM clock_timestamp() - c.heartbeat_at)
              * 1000)::bigint)
           ORDER BY c.id), '[]'::jsonb)
  INTO all_rows
  FROM controllers c;

  RETURN jsonb_build_object(
    'previous', jsonb_build_object('version', previous_version,
                                   'members', previous_members),
    'stored', jsonb_build_object('version', stored_version,
                                 'members', stored_members),
    'replaced', replaced,
    'rules_revision', rules_revision,
    'rows', all_rows);
END;
$$;
