-- Leases the next job a worker may run: the highest priority, then the oldest, among the jobs WHICH names
-- (those whose lease lapsed, then those queued: two index range scans rather than one scan of every job) and
-- whose build's parents have all succeeded and whose project has no other build running (one build of a project
-- runs at a time, so its builds end, and release, in the order they were asked for). One statement: the caller runs it in a
-- BEGIN IMMEDIATE transaction on SQLite (one writer at a time), and on PostgreSQL the lock marker below becomes
-- FOR UPDATE SKIP LOCKED, so concurrent claimers pass each other's rows instead of waiting for them.
-- $1 worker, $2 lease until, $3 now. SET sees the old row, so the CASE names the worker whose lease lapsed.
UPDATE jobs
SET state = 'running',
    worker = $1,
    lease_until = $2,
    attempts = attempts + 1,
    last_error = CASE WHEN state = 'running' THEN 'the lease of worker ' || worker || ' lapsed' ELSE last_error END,
    updated_at = $3
WHERE id = (
    SELECT j.id
    FROM jobs j
    WHERE /*WHICH*/
      AND j.attempts < j.max_attempts
      AND NOT EXISTS (
          SELECT 1
          FROM build_parents bp
          JOIN builds parent ON parent.id = bp.parent_build_id
          WHERE bp.build_id = j.build_id AND parent.state <> 'succeeded'
      )
      AND NOT EXISTS (
          SELECT 1
          FROM builds mine
          JOIN builds other ON other.project_id = mine.project_id
          WHERE mine.id = j.build_id AND other.state = 'running' AND other.id <> mine.id
      )
    ORDER BY j.priority DESC, j.created_at, j.id
    LIMIT 1
    /*LOCK*/
)
RETURNING id, build_id, attempts
