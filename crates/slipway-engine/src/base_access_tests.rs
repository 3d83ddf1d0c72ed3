use super::*;

const REGISTRY: &str = "r.example.org:5000";

fn spec() -> ProjectSpec {
    let text = "Projects:\n  - app-id: a\n    job-id: app\n    git-url: git://127.0.0.1/app\n    git-branch: main\n    \
                git-path: /\n    target-file: Dockerfile\n    notify-email: a@b.org\n    \
                depends-on: [a/base:1, library/tools:2]\n";
    let index = slipway_index::Index::from_texts([("index.d/a.yaml".into(), text.to_string())]);
    ProjectSpec::new(index.projects().next().expect("a project"), false)
}

fn access(image: &str) -> BaseAccess {
    let spec = spec();
    let pull_for = BTreeMap::from([(REGISTRY.to_string(), vec!["shared/*".to_string()])]);
    let rule = BaseImageRule {
        spec: &spec,
        registry: REGISTRY,
        pull_for: &pull_for,
        credentialed: &|host: &str| host == REGISTRY || host == "other.example.org",
    };
    rule.access(image)
}

#[test]
fn own_parents_and_pull_for_only_on_a_credentialed_registry() {
    let refused =
        |repository: &str| BaseAccess::Refused { host: REGISTRY.into(), repository: repository.into(), delivery: true };
    let cases: Vec<(&str, BaseAccess)> = vec![
        ("slipway/busybox:latest", BaseAccess::Anonymous),
        ("public.example.org/b/private:1", BaseAccess::Anonymous),
        ("r.example.org:5000/a/app:test", BaseAccess::Own),
        ("r.example.org:5000/a/app@sha256:0123", BaseAccess::Own),
        ("r.example.org:5000/a/base:7", BaseAccess::Parent),
        ("r.example.org:5000/tools:2", BaseAccess::Parent),
        ("r.example.org:5000/shared/x/y:1", BaseAccess::Shared { pattern: "shared/*".into() }),
        ("r.example.org:5000/b/private:latest", refused("b/private")),
        ("r.example.org:5000/b/private", refused("b/private")),
        ("r.example.org:5000/a/app-other:1", refused("a/app-other")),
        (
            "other.example.org/a/app:1",
            BaseAccess::Refused { host: "other.example.org".into(), repository: "a/app".into(), delivery: false },
        ),
        ("3f4e5a6b7c8d", BaseAccess::ImageId),
        ("sha256:3f4e5a6b7c8d", BaseAccess::ImageId),
    ];
    for (image, want) in cases {
        assert_eq!(access(image), want, "{image}");
    }
    assert!(access("r.example.org:5000/a/base:7").with_credentials());
    assert!(!access("public.example.org/b/private:1").with_credentials());
}

#[test]
fn a_refusal_names_the_line_the_image_and_what_to_do() {
    let spec = spec();
    let pull_for = BTreeMap::new();
    let rule = BaseImageRule { spec: &spec, registry: REGISTRY, pull_for: &pull_for, credentialed: &|_: &str| true };
    let images = [
        NamedImage { line: 1, instruction: "FROM", image: "r.example.org:5000/a/base:7" },
        NamedImage { line: 4, instruction: "COPY --from", image: "r.example.org:5000/b/private:1" },
        NamedImage { line: 6, instruction: "FROM", image: "elsewhere.example.org/b/private:1" },
    ];
    let err = rule.check("/Dockerfile", images).expect_err("refused");
    assert_eq!(err.refusals.len(), 2);
    // A parent is looked for in the delivery registry only, so depends-on is no way to another registry's image.
    let elsewhere = err.refusals[1].to_string();
    assert!(!elsewhere.contains("depends-on`,") && elsewhere.contains("pull_for"), "{elsewhere}");
    let message = err.refusals[0].to_string();
    assert!(message.starts_with("/Dockerfile:4: COPY --from r.example.org:5000/b/private:1: "), "{message}");
    assert!(message.contains("belongs to another project"), "{message}");
    assert!(message.contains("`depends-on`") && message.contains("pull_for = [\"b/private\"]"), "{message}");
    assert!(message.contains("[registries.\"r.example.org:5000\"]"), "{message}");
}
