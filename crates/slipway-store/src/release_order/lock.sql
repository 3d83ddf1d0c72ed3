-- Takes the lock of a repository for a holder until $3, when nobody holds it, its lease lapsed ($4 is now), or
-- the holder already has it (a renewal). 0 rows affected: someone else holds it.
INSERT INTO repository_locks (repository, holder, until)
VALUES ($1, $2, $3)
ON CONFLICT (repository) DO UPDATE
SET holder = excluded.holder,
    until = excluded.until
WHERE repository_locks.until < $4 OR repository_locks.holder = excluded.holder
