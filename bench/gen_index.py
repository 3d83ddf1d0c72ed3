#!/usr/bin/env python3
"""Generate a large, valid cccp-style index for benchmarking `slipway index`.

    gen_index.py OUTDIR [--projects 10000] [--files 100] [--seed 20240611]

Writes OUTDIR/index.d/ns000.yaml ... ns{files-1}.yaml. The output is deterministic
for a given seed. The dependency graph has the shape of the CentOS index: wide and
shallow, one base image (ns000/base:7) that most images descend from, chains up to
five levels below it (base -> level 1 -> ... -> level 5), ~5% of projects with a
list of two parents, ~2% with `depends-on: null` (other roots) and ~1% on an image
outside the index (external parents: warnings, not errors). Projects are spread
over all files so most dependencies cross files. Standard library only.
"""

import argparse
import os
import random
import sys

BASE_TAG = "7"
TAGS = ["latest"] * 6 + ["7"] * 2 + ["3.10", "8.22", "1.0", "2"]
EXTERNALS = [
    "external/base-centos7:latest",
    "external/fedora:38",
    "external/ubi8-minimal:8.9",
]
WORDS = (
    "httpd nginx python ruby nodejs php perl golang java tomcat mariadb postgresql "
    "redis memcached rabbitmq kafka zookeeper etcd consul vault grafana prometheus "
    "alertmanager jenkins gitlab-runner ansible django flask rails wordpress drupal "
    "joomla mediawiki nextcloud owncloud freeipa sssd openldap bind dnsmasq squid "
    "haproxy varnish elasticsearch kibana logstash fluentd rsyslog cassandra mongodb "
    "couchdb influxdb telegraf minio ceph gluster nfs-ganesha samba cups postfix "
    "dovecot spamassassin clamav openvpn strongswan wireguard tor privoxy firefox "
    "libreoffice gimp inkscape texlive pandoc sphinx mkdocs hugo jekyll maven gradle "
    "sbt scala kotlin clojure erlang elixir rust gcc clang cmake ninja meson bazel"
).split()
# (level, weight) for projects below the base; level 1 depends directly on a root.
LEVEL_WEIGHTS = [(1, 60), (2, 22), (3, 10), (4, 5), (5, 3)]
LIST_SHARE = 0.05
NULL_SHARE = 0.02
EXTERNAL_SHARE = 0.01
SECTION_COMMENTS = [
    "# --- language runtimes ---",
    "# --- databases and caches ---",
    "# --- web stack ---",
    "# maintained by the platform team; ask in #containers before changing",
    "# TODO: move to the 8-stream base once the tests pass",
    "# rebuilt nightly from main",
]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("--projects", type=int, default=10000)
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--seed", type=int, default=20240611)
    args = p.parse_args(argv)
    if args.files < 1 or args.files > 1000 or args.projects < args.files:
        p.error("need 1 <= files <= 1000 and projects >= files")
    return args


def make_slots(rng, projects, files):
    """Every project's (namespace, job-id, tag), spread evenly over the files; slot 0 is the base."""
    per_file = [projects // files + (1 if f < projects % files else 0) for f in range(files)]
    slots = []
    for f, count in enumerate(per_file):
        ns = "ns%03d" % f
        used = set()
        k = 0
        while k < count:
            if f == 0 and k == 0:
                job, tag = "base", BASE_TAG
            else:
                job = "%s-%d" % (rng.choice(WORDS), rng.randrange(1000))
                tag = rng.choice(TAGS)
            if (job, tag) in used:
                continue
            used.add((job, tag))
            slots.append({"ns": ns, "job": job, "tag": tag})
            k += 1
            # Sometimes the same job-id is published under a second tag (python:3.10 and python:latest).
            if k < count and job != "base" and rng.random() < 0.08:
                other = rng.choice([t for t in TAGS if t != tag])
                if (job, other) not in used:
                    used.add((job, other))
                    slots.append({"ns": ns, "job": job, "tag": other})
                    k += 1
    return slots


def image(slot):
    return "%s/%s:%s" % (slot["ns"], slot["job"], slot["tag"])


def assign_parents(rng, slots):
    """Give each slot its level and depends-on; levels strictly increase along edges, so no cycles."""
    base = slots[0]
    base["level"], base["deps"] = 0, None
    rest = slots[1:]
    order = list(range(len(rest)))
    rng.shuffle(order)  # roles are independent of file and position
    n = len(rest)
    n_null = round(n * NULL_SHARE)
    n_ext = round(n * EXTERNAL_SHARE)
    roots = [base]
    for i in order[:n_null]:
        rest[i]["level"], rest[i]["deps"] = 0, None
        roots.append(rest[i])
    for i in order[n_null:n_null + n_ext]:
        rest[i]["level"], rest[i]["deps"] = 1, rng.choice(EXTERNALS)
    dependents = [rest[i] for i in order[n_null + n_ext:]]
    levels, weights = zip(*LEVEL_WEIGHTS)
    for s in dependents:
        s["level"] = rng.choices(levels, weights)[0]
    # Depth 5 must exist: the first five dependents form a chain base -> 1 -> 2 -> 3 -> 4 -> 5.
    for depth, s in enumerate(dependents[:5], start=1):
        s["level"] = depth
    pools = {0: roots}
    for lvl in range(1, 6):
        pools[lvl] = [s for s in dependents if s["level"] == lvl]
    chain_parent = base
    for lvl in range(1, 6):
        for s in pools[lvl]:
            if lvl == 1:
                # Most level-1 images build on the base, the others on another root (centos:6, centos:8 ...).
                primary = base if rng.random() < 0.85 else rng.choice(roots)
            else:
                primary = rng.choice(pools[lvl - 1])
            if s is dependents[lvl - 1]:
                primary = chain_parent
                chain_parent = s
            if rng.random() < LIST_SHARE:
                below = [x for l in range(lvl) for x in (pools[l] if l else roots)]
                second = primary
                while second is primary:
                    second = rng.choice(below)
                s["deps"] = [image(primary), image(second)]
            else:
                s["deps"] = image(primary)


def render_entry(rng, slot, entry_id):
    ns, job, tag = slot["ns"], slot["job"], slot["tag"]
    word = job.rsplit("-", 1)[0]
    git_path = rng.choice(["/", "/", "/", "centos7", "images/%s" % word, "%s/%s" % (word, tag)])
    lines = [
        "  - id: %d" % entry_id,
        "    app-id: %s" % ns,
        "    job-id: %s" % job,
        "    git-url: https://git.example.org/%s/%s" % (ns, job),
        "    git-branch: main",
        "    git-path: %s" % git_path,
        "    target-file: Dockerfile",
        "    desired-tag: %s" % tag,
        "    notify-email: %s-team@example.org" % word,
        "    build-context: ./",
    ]
    deps = slot["deps"]
    if deps is None:
        lines.append("    depends-on: null")
    elif isinstance(deps, str):
        lines.append("    depends-on: %s" % deps)
    else:
        lines.append("    depends-on:")
        lines.extend("      - %s" % d for d in deps)
    return lines


def write_files(rng, slots, outdir):
    index_d = os.path.join(outdir, "index.d")
    os.makedirs(index_d, exist_ok=True)
    by_ns = {}
    for s in slots:
        by_ns.setdefault(s["ns"], []).append(s)
    for ns, entries in sorted(by_ns.items()):
        out = [
            "# %s: generated by bench/gen_index.py for the `slipway index` benchmark." % ns,
            "# Format: cccp's index.d. Do not edit by hand.",
            "Projects:",
        ]
        for n, slot in enumerate(entries, start=1):
            if n > 1:
                out.append("")
            if rng.random() < 0.1:
                out.append("  " + rng.choice(SECTION_COMMENTS))
            out.extend(render_entry(rng, slot, n))
        with open(os.path.join(index_d, ns + ".yaml"), "w") as f:
            f.write("\n".join(out) + "\n")
    return len(by_ns)


def main(argv):
    args = parse_args(argv)
    rng = random.Random(args.seed)
    slots = make_slots(rng, args.projects, args.files)
    assign_parents(rng, slots)
    files = write_files(rng, slots, args.outdir)
    levels = {}
    for s in slots:
        levels[s["level"]] = levels.get(s["level"], 0) + 1
    lists = sum(isinstance(s["deps"], list) for s in slots)
    print(
        "gen_index: %d projects in %d files under %s/index.d (per level %s, %d with two parents)"
        % (len(slots), files, args.outdir, dict(sorted(levels.items())), lists),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
