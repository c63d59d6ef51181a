-- 0013_audit_filters: indexes for GET /api/v1/audit's filters.
--
-- The API pages by id (WHERE id > cursor ORDER BY id LIMIT n) with any of
-- actor, target kind, target (its name, or its id) and a time range. Each
-- index leads with the filtered column and ends with id, so a filtered page
-- is a range scan in id order that stops after n rows, however long the
-- log. The time range uses audit_log_at (0002).
CREATE INDEX audit_log_actor_id ON audit_log (actor, id);
CREATE INDEX audit_log_kind_id ON audit_log (target_kind, id);
CREATE INDEX audit_log_target_name_id ON audit_log (target_name, id);
CREATE INDEX audit_log_target_id_id ON audit_log (target_id, id);
