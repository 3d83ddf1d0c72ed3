#!/usr/bin/env python3
"""Seeds a Slipway SQLite database (schema made by `slipway db migrate`) for bench/web.sh: PROJECTS projects
with BUILDS builds each, every build with its stages, images, tag moves and a short log; the last build of
project 0 fails with a log of LOG_MB megabytes in 64 KiB chunks. Rows are what the workers write, in bulk."""
import datetime
import json
import sqlite3
import sys

db, projects, builds_each, log_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
REGISTRY = "127.0.0.1:5555"
STAGES = ["checkout", "lint", "build", "push", "test", "scan", "deliver"]
start = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def ts(seconds):
    return (start + datetime.timedelta(seconds=seconds)).isoformat(timespec="microseconds")


con = sqlite3.connect(db)
cur = con.cursor()
cur.execute("PRAGMA journal_mode=WAL")
cur.execute("PRAGMA synchronous=OFF")
parent_rows, project_rows, build_rows, job_rows, stage_rows, log_rows, image_rows, tag_rows = [], [], [], [], [], [], [], []
build_id = stage_id = image_id = 0
for p in range(projects):
    image = f"bench/app{p:04d}:latest"
    parent = [f"bench/app{p - 1:04d}:latest"] if p % 10 else []
    parent_rows += [(p + 1, image) for image in parent]
    project_rows.append((p + 1, image, "bench", f"app{p:04d}", "latest", f"git://127.0.0.1/app{p}", "main", ".",
                         "Dockerfile", "./", json.dumps(parent), None, json.dumps({}), "index/index.d/bench.yaml",
                         p + 1, 1, ts(0), ts(0)))
    repository = f"{REGISTRY}/bench/app{p:04d}"
    for n in range(1, builds_each + 1):
        build_id += 1
        t = p * 7 + n * 3600
        failed = (p + n) % 7 == 0
        state = "failed" if failed else "succeeded"
        digest = f"sha256:{build_id:064x}"
        build_rows.append((build_id, p + 1, n, json.dumps(["schedule: weekly"]), state, f"{build_id:040x}",
                           f"Change number {n} <b>bold</b>", None, "test" if failed else None,
                           "tests/run.sh exited with exit code 1" if failed else None, digest, "bench-worker",
                           ts(t), ts(t + 5), ts(t + 300)))
        job_rows.append((build_id, build_id, "done", 100, 1, 3, "bench-worker", None, None, ts(t), ts(t + 300)))
        for i, kind in enumerate(STAGES):
            stage_id += 1
            stage_failed = failed and kind == "test"
            stage_rows.append((stage_id, build_id, kind, "failed" if stage_failed else "succeeded", ts(t + 5 + i * 40),
                               ts(t + 45 + i * 40), "tests/run.sh exited with exit code 1" if stage_failed else None))
            text = f"[slipway] {kind} of {image} #{n}\n" + ("ERROR: assertion failed\n" if stage_failed else "ok\n")
            log_rows.append((stage_id, 0, ts(t), text, len(text.encode())))
            if stage_failed:
                break
        image_id += 1
        image_rows.append((image_id, p + 1, build_id, repository, digest, "rc" if failed else "released", ts(t), ts(t)))
        tag_rows.append((REGISTRY, repository, "test", digest, None, ts(t + 200), f"build {image}#{n}", build_id))
        if not failed:
            tag_rows.append((REGISTRY, repository, "latest", digest, None, ts(t + 290), f"build {image}#{n}", build_id))

cur.executemany("INSERT INTO projects (id,image,app_id,job_id,desired_tag,git_url,git_branch,git_path,target_file,"
                "build_context,depends_on,notify_email,entry,index_file,index_line,active,created_at,updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", project_rows)
cur.executemany("INSERT INTO project_parents (project_id,parent_image) VALUES (?,?)", parent_rows)
cur.executemany("INSERT INTO builds (id,project_id,number,causes,state,\"commit\",commit_subject,semver_tag,failed_stage,"
                "error,digest,worker,created_at,started_at,finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                build_rows)
cur.executemany("INSERT INTO jobs (id,build_id,state,priority,attempts,max_attempts,worker,lease_until,last_error,"
                "created_at,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", job_rows)
cur.executemany("INSERT INTO stages (id,build_id,kind,state,started_at,finished_at,error) VALUES (?,?,?,?,?,?,?)",
                stage_rows)
cur.executemany("INSERT INTO log_chunks (stage_id,seq,written_at,text,end_byte) VALUES (?,?,?,?,?)", log_rows)
cur.executemany("INSERT INTO images (id,project_id,build_id,repository,digest,qa_state,created_at,updated_at) "
                "VALUES (?,?,?,?,?,?,?,?)", image_rows)
cur.executemany("INSERT INTO tag_events (registry,repository,tag,digest,previous_digest,at,by,build_id) "
                "VALUES (?,?,?,?,?,?,?,?)", tag_rows)

# The big log: the build stage of project 0's last build, replaced by LOG_MB MB of numbered lines.
big_stage = cur.execute("SELECT s.id FROM stages s JOIN builds b ON b.id = s.build_id WHERE b.project_id = 1 "
                        "AND b.number = ? AND s.kind = 'build'", (builds_each,)).fetchone()[0]
cur.execute("DELETE FROM log_chunks WHERE stage_id = ?", (big_stage,))
chunk, seq, end, line_no, rows = [], 0, 0, 0, []
target = log_mb * 1024 * 1024
while end < target:
    lines = []
    size = 0
    while size < 64 * 1024:
        line_no += 1
        line = f"Step {line_no}: \x1b[32mcompiling\x1b[0m module_{line_no} with flags -O2 -g -Wall <and> more text\n"
        lines.append(line)
        size += len(line)
    text = "".join(lines)
    end += len(text.encode())
    rows.append((big_stage, seq, ts(0), text, end))
    seq += 1
cur.executemany("INSERT INTO log_chunks (stage_id,seq,written_at,text,end_byte) VALUES (?,?,?,?,?)", rows)
con.commit()
print(f"seeded {projects} projects, {build_id} builds, {stage_id} stages; a {end / 1048576:.0f} MiB log in "
      f"{seq} chunks on stage {big_stage}")
