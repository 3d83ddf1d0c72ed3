use super::*;
use crate::yaml;

const FULL: &str = "\
id: 7
app-id: demo
job-id: tools
git-url: https://example.org/demo/tools
git-branch: main
git-path: /images/tools/
target-file: Dockerfile.centos7
desired-tag: 3.10
notify-email: team@example.org
build-context: ../
depends-on:
  - demo/base:7
  - registry.example.org/other/base:010
prebuild-script: ./prepare.sh
prebuild-context: /images
schedule: '0 3 * * 1'
notify-on: always
build-args:
  VERSION: 1.10
  EMPTY:
test-script: tests/run.sh
test-skip: False
test-timeout: 10m
promotion: manual
registry: quay
keep-candidates: 5
keep-days: 30
build-network: host
";

fn read(text: &str) -> (Entry, Vec<Diagnostic>) {
    let file = SourceFile::new("demo.yaml".into(), text.to_string());
    let root = yaml::parse(text).root.expect("a document");
    read_entry(&file, &root, "demo")
}

fn codes(text: &str) -> Vec<(Code, u32)> {
    read(text).1.iter().map(|d| (d.code, d.line)).collect()
}

#[test]
fn every_field_is_read_with_cccp_semantics() {
    let (entry, diagnostics) = read(FULL);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let project = entry.project.expect("valid");
    assert_eq!(project.image.to_string(), "demo/tools:3.10");
    assert_eq!(project.id.as_deref(), Some("7"));
    assert_eq!(project.git_path.as_str(), "images/tools");
    assert_eq!(project.target_file.as_str(), "images/tools/Dockerfile.centos7");
    assert_eq!(project.build_context.as_str(), "images");
    let parents: Vec<String> = project.depends_on.iter().map(|p| p.image.to_string()).collect();
    assert_eq!(parents, ["demo/base:7", "registry.example.org/other/base:010"]);
    assert_eq!(project.depends_on[1].pos.line, 13);
    let prebuild = project.prebuild.expect("prebuild");
    assert_eq!((prebuild.context.as_str(), prebuild.script.as_str()), ("images", "images/prepare.sh"));
    assert_eq!(project.schedule.as_deref(), Some("0 3 * * 1"));
    assert_eq!(project.notify_on, NotifyOn::Always);
    assert_eq!(project.promotion, Promotion::Manual);
    assert_eq!(project.build_args.get("VERSION").map(String::as_str), Some("1.10"));
    assert_eq!(project.build_args.get("EMPTY").map(String::as_str), Some(""));
    assert_eq!(project.test.script.as_ref().map(RepoPath::as_str), Some("images/tools/tests/run.sh"));
    assert_eq!(project.test.skip, Some(false));
    assert_eq!(project.test.timeout, Some(std::time::Duration::from_secs(600)));
    assert_eq!(project.registry.as_deref(), Some("quay"));
    assert_eq!(project.build_network, Some(BuildNetwork::Host));
    assert_eq!(project.retention, Retention { keep_candidates: Some(5), keep_days: Some(30), rollback_window: None });
    // As written, for `index show`: nothing was converted.
    let written: Vec<(&str, &Written)> = entry.written.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert!(written.contains(&("desired-tag", &Written::Text("3.10".into()))));
    assert!(written.contains(&("id", &Written::Text("7".into()))));
}

#[test]
fn defaults_are_cccps() {
    let text = "app-id: demo\njob-id: web\ngit-url: https://e.org/r\ngit-branch: main\ngit-path: docker\n\
                target-file: Dockerfile\nnotify-email: a@b.org\ndepends-on: null\n";
    let (entry, diagnostics) = read(text);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let project = entry.project.expect("valid");
    assert_eq!(project.image.tag(), "latest");
    assert_eq!(project.build_context.as_str(), "docker");
    assert!(project.depends_on.is_empty());
    assert_eq!((project.notify_on, project.promotion), (NotifyOn::Failure, Promotion::Auto));
    assert_eq!(project.build_network, None, "the worker's build_network applies");
    // cccp's BaseLoader read a plain `null` depends-on as the string "null": the same thing.
    let (entry, _) = read(&text.replace("depends-on: null", "depends-on: 'null'"));
    assert!(entry.project.expect("valid").depends_on.is_empty());
}

#[test]
fn numbers_stay_strings() {
    let text = FULL.replace("desired-tag: 3.10", "desired-tag: 010");
    let (entry, _) = read(&text);
    assert_eq!(entry.project.expect("valid").image.tag(), "010");
}

#[test]
fn all_problems_of_an_entry_are_reported_at_once() {
    let text = FULL
        .replace("notify-email: team@example.org", "notify-email: team")
        .replace("git-branch: main", "git-branch: 'a b'")
        .replace("promotion: manual", "promotion: manuel");
    let found = codes(&text);
    assert_eq!(found, vec![(Code::InvalidBranch, 5), (Code::InvalidEmail, 9), (Code::InvalidValue, 24)]);
    let (_, diagnostics) = read(&text);
    assert_eq!(diagnostics[2].hint.as_deref(), Some("did you mean `manual`?"));
}

#[test]
fn build_network_is_one_of_three() {
    let text = FULL.replace("build-network: host", "build-network: hosts");
    let (entry, diagnostics) = read(&text);
    assert!(entry.project.is_none());
    assert_eq!(codes(&text), vec![(Code::InvalidValue, 28)]);
    assert!(diagnostics[0].message.contains("must be one of: none, default, host"), "{diagnostics:?}");
    assert_eq!(diagnostics[0].hint.as_deref(), Some("did you mean `host`?"));
}

#[test]
fn retention_counts_are_whole_numbers_in_range() {
    let text = FULL.replace("keep-candidates: 5", "keep-candidates: 0").replace("keep-days: 30", "keep-days: 2w");
    let (entry, diagnostics) = read(&text);
    assert!(entry.project.is_none());
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("`keep-candidates` must be a whole number from 1 to 1000, found `0`"));
    assert!(messages[1].contains("`keep-days`"), "{messages:?}");
}

#[test]
fn build_context_may_leave_git_path_but_not_the_repository() {
    let climbs = FULL.replace("build-context: ../", "build-context: ../../");
    assert_eq!(read(&climbs).0.project.expect("valid").build_context.as_str(), "");
    let escapes = FULL.replace("build-context: ../", "build-context: ../../../");
    assert_eq!(codes(&escapes), vec![(Code::PathEscapesRepo, 10)]);
}

#[test]
fn the_image_is_known_even_when_other_fields_are_wrong() {
    let (entry, _) = read(&FULL.replace("notify-email: team@example.org", "notify-email: nobody"));
    assert!(entry.project.is_none());
    assert_eq!(entry.image.map(|i| i.key()).as_deref(), Some("demo/tools:3.10"));
}
