use super::*;

/// Lines and codes of the warnings for `text`, ignoring `no-user` unless `with_user` (most cases set no USER).
fn codes(text: &str, with_user: bool) -> Vec<(usize, &'static str)> {
    lint(text).into_iter().filter(|w| with_user || w.code != "no-user").map(|w| (w.line, w.code)).collect()
}

#[test]
fn base_images() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        ("FROM centos", &[(1, "unpinned-base")]),
        ("FROM centos:latest", &[(1, "unpinned-base")]),
        ("FROM centos:7", &[]),
        ("from centos:7", &[]),
        ("FROM registry.example.org:5000/app/base", &[(1, "unpinned-base")]),
        ("FROM registry.example.org:5000/app/base:1.2", &[]),
        ("FROM busybox@sha256:0123", &[]),
        ("FROM scratch", &[]),
        ("FROM --platform=linux/amd64 alpine:3.20 AS build\nFROM build", &[]),
        ("FROM alpine:3.20 as Build\nFROM build", &[]),
        ("FROM build", &[(1, "unpinned-base")]),
        ("ARG BASE=centos:7\nFROM $BASE", &[]),
        ("FROM golang AS build\nFROM scratch", &[(1, "unpinned-base")]),
    ];
    for (text, want) in cases {
        assert_eq!(codes(text, false), *want, "{text}");
    }
}

#[test]
fn instructions_to_avoid() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        ("FROM a:1\nMAINTAINER Jo <jo@example.org>", &[(2, "maintainer-deprecated")]),
        ("FROM a:1\nmaintainer jo", &[(2, "maintainer-deprecated")]),
        ("FROM a:1\nADD https://example.org/x.tgz /opt/", &[(2, "add-url")]),
        ("FROM a:1\nADD --chown=1:1 [\"http://example.org/x\", \"/x\"]", &[(2, "add-url")]),
        ("FROM a:1\nADD app.tgz /opt/", &[]),
        ("FROM a:1\nCOPY https-notes.txt /", &[]),
    ];
    for (text, want) in cases {
        assert_eq!(codes(text, false), *want, "{text}");
    }
}

#[test]
fn package_managers() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        ("FROM a:1\nRUN apt-get update && apt-get install -y curl", &[(2, "package-cache")]),
        ("FROM a:1\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*", &[]),
        (
            "FROM a:1\nRUN DEBIAN_FRONTEND=noninteractive apt-get install -y \\\n    curl \\\n && rm -rf /var/lib/apt/lists/*",
            &[],
        ),
        ("FROM a:1\nRUN yum install -y httpd", &[(2, "package-cache")]),
        ("FROM a:1\nRUN yum -y install httpd && yum clean all", &[]),
        ("FROM a:1\nRUN dnf install -y httpd && dnf clean all", &[]),
        ("FROM a:1\nRUN microdnf install nginx", &[(2, "package-cache")]),
        ("FROM a:1\nRUN apk add curl", &[(2, "package-cache")]),
        ("FROM a:1\nRUN apk add --no-cache curl", &[]),
        ("FROM a:1\nRUN apt-get upgrade -y", &[(2, "apt-upgrade")]),
        ("FROM a:1\nRUN apt-get -y dist-upgrade", &[(2, "apt-upgrade")]),
        ("FROM a:1\nRUN [\"yum\", \"install\", \"-y\", \"x\"]", &[(2, "package-cache")]),
        ("FROM a:1\nRUN echo apt-get install is fun", &[]),
        ("FROM a:1\nRUN yum update -y", &[]),
    ];
    for (text, want) in cases {
        assert_eq!(codes(text, false), *want, "{text}");
    }
}

#[test]
fn users() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        ("FROM a:1\nRUN true", &[(1, "no-user")]),
        ("FROM a:1\nUSER app", &[]),
        ("FROM a:1\nUSER 1001:0", &[]),
        ("FROM a:1\nUSER app\nUSER root", &[(3, "user-root")]),
        ("FROM a:1\nUSER 0:0", &[(2, "user-root")]),
        // Only the final stage counts.
        ("FROM a:1 AS build\nUSER app\nFROM b:2", &[(3, "no-user")]),
        ("FROM a:1 AS build\nFROM b:2\nUSER app", &[]),
        ("", &[]),
        ("# only a comment\n", &[]),
    ];
    for (text, want) in cases {
        assert_eq!(codes(text, true), *want, "{text}");
    }
}

#[test]
fn continuations_comments_and_escape() {
    let text = "# escape=`\nFROM a:1\nRUN yum install -y `\n# a comment inside\n    httpd `\n\n && yum clean all\nMAINTAINER x";
    assert_eq!(codes(text, false), [(8, "maintainer-deprecated")]);
    let parsed = instructions("FROM a:1\nRUN echo a \\\n  # dropped\n  b\n\nLABEL x=y\\");
    let found: Vec<(usize, &str, &str)> =
        parsed.iter().map(|i| (i.line, i.keyword.as_str(), i.args.as_str())).collect();
    assert_eq!(found, [(1, "FROM", "a:1"), (2, "RUN", "echo a b"), (6, "LABEL", "x=y")]);
}

#[test]
fn messages_say_what_to_do() {
    let warnings = lint("FROM centos\nRUN yum install -y httpd\n");
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "FROM centos has no tag, so it means :latest and changes under you; pin a version tag",
            "the final stage sets no USER, so the container runs as root; add USER with a non-root user after \
             installing packages",
            "yum install leaves its cache in the image; end the same RUN with `&& yum clean all`",
        ]
    );
}

#[test]
fn base_images_are_the_external_froms() {
    let text = "ARG V=1\nFROM --platform=linux/amd64 127.0.0.1:5555/lib/golang:1.22 AS build\nFROM build AS test\n\
                FROM scratch\nFROM $BASE\nfrom slipway/busybox:latest\nFROM 127.0.0.1:5555/lib/golang:1.22\n";
    // `base_images` here is the test above.
    let froms = crate::lint::base_images;
    assert_eq!(froms(text), ["127.0.0.1:5555/lib/golang:1.22", "slipway/busybox:latest"]);
    assert!(froms("").is_empty());
}
