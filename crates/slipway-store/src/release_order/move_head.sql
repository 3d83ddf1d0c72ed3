-- Moves a project's head in one tier to a build, only forward in build order unless forced ($8): the
-- compare-and-set of the release order. No row is written (0 rows affected) when a newer build holds the head.
INSERT INTO release_heads (project_id, tier, build_id, build_number, digest, "by", moved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (project_id, tier) DO UPDATE
SET build_id = excluded.build_id,
    build_number = excluded.build_number,
    digest = excluded.digest,
    "by" = excluded."by",
    moved_at = excluded.moved_at
WHERE $8 OR release_heads.build_number <= excluded.build_number
