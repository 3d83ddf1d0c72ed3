use std::collections::BTreeMap;

use super::*;

fn images(text: &str) -> Vec<(usize, Via, String)> {
    image_uses(text, &BTreeMap::new()).into_iter().map(|u| (u.line, u.via, u.image)).collect()
}

fn urls(text: &str) -> Vec<(usize, String)> {
    add_urls(text, &BTreeMap::new()).into_iter().map(|u| (u.line, u.url)).collect()
}

#[test]
fn images_from_every_instruction_that_reads_one_but_not_stages() {
    let text = "FROM r.example.org/a/base:1 AS build\n\
                COPY --from=build /x /x\n\
                FROM scratch\n\
                COPY --chown=0:0 --from=r.example.org/b/tools:2 /bin/t /t\n\
                COPY --from=0 /x /y\n\
                RUN --mount=type=bind,from=r.example.org/c/data:3,target=/d \\\n    --mount=type=cache,target=/c true\n\
                FROM build\n";
    assert_eq!(
        images(text),
        [
            (1, Via::From, "r.example.org/a/base:1".to_string()),
            (4, Via::CopyFrom, "r.example.org/b/tools:2".to_string()),
            (6, Via::MountFrom, "r.example.org/c/data:3".to_string()),
        ]
    );
}

#[test]
fn a_from_may_name_only_an_earlier_stage() {
    let text = "FROM later\nFROM busybox AS later\n";
    assert_eq!(images(text), [(1, Via::From, "later".into()), (2, Via::From, "busybox".into())]);
}

#[test]
fn variables_are_expanded_as_the_build_would() {
    let text = "ARG REG=r.example.org\nARG NAME\nFROM ${REG}/b/${NAME:-private}:$TAG\n\
                FROM $REG/x/${TARGETARCH}\n";
    let found = images(text);
    assert_eq!(found[0].2, "r.example.org/b/private:");
    assert!(found[1].2.starts_with("r.example.org/x/") && !found[1].2.ends_with('/'), "{found:?}");
    let args = BTreeMap::from([("REG".to_string(), "q.example.org".to_string()), ("TAG".into(), "7".into())]);
    let found = image_uses(text, &args);
    assert_eq!(found[0].image, "q.example.org/b/private:7");
}

#[test]
fn add_urls_across_flags_continuations_case_and_escape_directives() {
    let text = "FROM busybox\nadd --chown=1:1 \\\n   http://127.0.0.1:8000/f /f\nADD local.txt /l\n\
                ADD [\"https://example.org/a\", \"/a\"]\n";
    assert_eq!(urls(text), [(2, "http://127.0.0.1:8000/f".into()), (5, "https://example.org/a".into())]);
    let escaped = "# escape=`\nFROM busybox\nADD `\n  HTTP://example.org/x `\n  /x\n";
    assert_eq!(urls(escaped), [(3, "HTTP://example.org/x".into())]);
    let variable = "FROM busybox\nARG U=http://example.org/y\nADD ${U} /y\n";
    assert_eq!(urls(variable), [(3, "http://example.org/y".into())]);
    assert!(urls("FROM busybox\nCOPY http://x/y /y\nADD a b /dest/\n").is_empty());
}
