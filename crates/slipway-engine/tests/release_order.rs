//! The release order, with the real registry (distribution 2.8) and the real store on SQLite and PostgreSQL:
//! - builds of one project delivered in every order, at once, end with the newest build's digest under `rc`
//!   and the release tags, and as the store's stable image;
//! - two servers (two connection pools, two registry clients) racing releases of one project agree;
//! - a set release whose second member fails, with the registry stopped between the two, puts every tag back,
//!   leaves a member that was already released released, and aborts before moving anything when a tag's state
//!   cannot be read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, unique_name};
use slipway_engine::{ProjectSpec, PromoteError, Promotion, ReleaseError, promote, release_build, release_set};
use slipway_registry::{ClientConfig, Reference, RegistryClient};
use slipway_store::{BuildOutcome, BuildState, NewBuild, NewImage, Project, QaState, Store, Tier};

const BUILDS: usize = 4;

/// Images to deliver: `BUILDS` distinct digests pushed once to a source repository of `registry`.
struct Images {
    source: String,
    digests: Vec<String>,
    _local: LocalTags,
}

fn images(registry: &Registry) -> Images {
    let mut local = LocalTags::new();
    let source = unique_name("order-source");
    let mut digests = Vec::new();
    for n in 0..BUILDS {
        let tag = local.add(format!("{source}:b{n}"));
        build_image(&tag, 1024);
        digests.push(registry.push(&tag, &format!("{source}:b{n}")));
        local.add(registry.reference(&format!("{source}:b{n}")));
    }
    Images { source: registry.reference(&source), digests, _local: local }
}

async fn stores(name: &str) -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&Store::sqlite_url(dir.path())).await.unwrap();
    sqlite.migrate().await.unwrap();
    let url = slipway_e2e::postgres_database(name);
    let postgres = Store::connect(&url).await.unwrap();
    postgres.migrate().await.unwrap();
    vec![("SQLite", sqlite, Some(dir)), ("PostgreSQL", postgres, None)]
}

fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig::default()).unwrap()
}

/// Records project `app/job:latest` (promotion manual) as the index would.
async fn project(store: &Store, app: &str, job: &str) -> Project {
    let text = format!(
        "Projects:\n  - id: 1\n    app-id: {app}\n    job-id: {job}\n    git-url: git://127.0.0.1/{job}\n    \
         git-branch: main\n    git-path: /\n    target-file: Dockerfile\n    notify-email: a@example.org\n    \
         promotion: manual\n"
    );
    let index = slipway_index::Index::from_texts([(PathBuf::from(format!("index.d/{app}.yaml")), text)]);
    let entry = index.projects().next().expect("a valid entry");
    let spec = ProjectSpec::new(entry, false);
    let origin = slipway_index::Origin { file: format!("index.d/{app}.yaml").into(), line: 2, column: 5 };
    store.upsert_project(&spec.record(entry, &origin)).await.unwrap()
}

/// A build of `project` that passed its tests with `digest` (copied into `repository` from the source), its
/// image at `state`.
async fn tested_build(
    store: &Store,
    client: &RegistryClient,
    project: &Project,
    (source, repository): (&str, &str),
    digest: &str,
    state: QaState,
) -> slipway_store::Build {
    let new = NewBuild {
        project_id: project.id,
        causes: vec!["test".into()],
        parents: vec![],
        priority: 0,
        max_attempts: 1,
        source_image: None,
    };
    let build = store.create_build(&new).await.unwrap();
    let job = store.claim("tester", Duration::from_secs(60)).await.unwrap().expect("the build is claimed");
    assert_eq!(job.build_id, build.id);
    store.set_build_commit(build.id, &format!("{:040x}", build.number), "a commit", None).await.unwrap();
    store.set_build_digest(build.id, digest).await.unwrap();
    let from: Reference = format!("{source}@{digest}").parse().unwrap();
    let to: Reference = format!("{repository}@{digest}").parse().unwrap();
    client.copy(&from, &to).await.unwrap();
    let image = NewImage {
        project_id: project.id,
        build_id: build.id,
        repository: repository.to_string(),
        digest: digest.to_string(),
        qa_state: state,
    };
    store.record_image(&image).await.unwrap();
    let done = BuildOutcome { state: BuildState::Succeeded, failed_stage: None, error: None };
    store.finish_build(job.job_id, "tester", &done).await.unwrap();
    store.build(build.id).await.unwrap()
}

async fn tag_of(client: &RegistryClient, repository: &str, tag: &str) -> Option<String> {
    slipway_engine::tag_digest(client, repository, tag).await.unwrap()
}

/// What the deliver stage does: `rc`, then the release tags; `false` when a newer build had either.
async fn deliver(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    repository: &str,
    build: &slipway_store::Build,
) -> bool {
    let by = format!("build #{}", build.number);
    for (tier, tags, state) in [
        (Tier::Rc, vec!["rc".to_string()], QaState::Rc),
        (Tier::Release, vec!["latest".to_string(), format!("main-b{}", build.number)], QaState::Released),
    ] {
        let promotion = Promotion {
            registry,
            repository,
            digest: build.digest.as_deref().unwrap(),
            tags: &tags,
            from_tier: "test",
            tier,
            build_id: build.id,
            by: &by,
            qa_state: state,
            forced: false,
        };
        match promote(store, client, &promotion).await {
            Ok(_) => {}
            Err(PromoteError::Superseded { .. }) => return false,
            Err(err) => panic!("delivering build #{}: {err}", build.number),
        }
    }
    true
}

/// The orders the builds finish in: a fixed set of permutations (reversed, interleaved, …) from a seeded
/// generator, so a failure is repeatable.
fn orders(count: usize) -> Vec<Vec<usize>> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut orders = vec![(0..BUILDS).rev().collect::<Vec<_>>(), (0..BUILDS).collect()];
    while orders.len() < count {
        let mut order: Vec<usize> = (0..BUILDS).collect();
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, usize::try_from(seed % (i as u64 + 1)).unwrap());
        }
        orders.push(order);
    }
    orders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn builds_finishing_in_any_order_leave_the_newest_released() {
    let registry = Registry::start(Auth::None);
    let images = images(&registry);
    let client = client();
    for (backend, store, _dir) in stores("order_any").await {
        for (round, order) in orders(8).into_iter().enumerate() {
            let p = project(&store, "order", &format!("p{round}")).await;
            let repository = registry.reference(&format!("order/p{round}"));
            let mut builds = Vec::new();
            for digest in &images.digests {
                let pair = (images.source.as_str(), repository.as_str());
                builds.push(tested_build(&store, &client, &p, pair, digest, QaState::Passed).await);
            }
            // Each build is delivered by a worker of its own, all at once, starting in `order`.
            let workers: Vec<_> = order
                .iter()
                .enumerate()
                .map(|(place, &n)| {
                    let (store, client, build) = (store.clone(), client.clone(), builds[n].clone());
                    let (registry, repository) = (registry.address(), repository.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(15 * place as u64)).await;
                        deliver(&store, &client, &registry, &repository, &build).await
                    })
                })
                .collect();
            let mut delivered = Vec::new();
            for (worker, &n) in workers.into_iter().zip(&order) {
                if worker.await.unwrap() {
                    delivered.push(n);
                }
            }
            let newest = builds.last().unwrap();
            let digest = newest.digest.clone().unwrap();
            let at = format!("{backend}, order {order:?}, delivered {delivered:?}");
            assert!(delivered.contains(&(BUILDS - 1)), "{at}: the newest is always delivered");
            assert_eq!(tag_of(&client, &repository, "latest").await.as_ref(), Some(&digest), "{at}: latest");
            assert_eq!(tag_of(&client, &repository, "rc").await.as_ref(), Some(&digest), "{at}: rc");
            let stable = store.stable_images(Some(p.id)).await.unwrap();
            assert_eq!(stable.first().map(|i| i.digest.as_str()), Some(digest.as_str()), "{at}: stable");
            let head = store.release_head(p.id, Tier::Release).await.unwrap().unwrap();
            assert_eq!(head.build_id, newest.id, "{at}: head");
            // Every move of rc and latest went forward in build order, whatever order the deliveries ran in.
            let numbers: std::collections::HashMap<i64, i64> = builds.iter().map(|b| (b.id, b.number)).collect();
            for tag in ["rc", "latest"] {
                let history = store.tag_history(&repository, Some(tag), None).await.unwrap();
                let moves: Vec<i64> = history.iter().rev().filter_map(|e| e.build_id).map(|id| numbers[&id]).collect();
                assert!(moves.windows(2).all(|w| w[0] <= w[1]), "{at}: {tag} moved back: {moves:?}");
            }
            // A delivery that lost the race was refused and says so.
            for build in &builds[..BUILDS - 1] {
                if !delivered.contains(&usize::try_from(build.number - 1).unwrap()) {
                    let promotions = store.promotions(build.id).await.unwrap();
                    let said = promotions.iter().any(|p| p.error.as_deref().is_some_and(|e| e.contains("older than")));
                    assert!(said, "{at}: build #{} was refused and recorded: {promotions:?}", build.number);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_racing_releases_agree_on_the_newest() {
    let registry = Registry::start(Auth::None);
    let images = images(&registry);
    let url = slipway_e2e::postgres_database("order_servers");
    let one = Store::connect(&url).await.unwrap();
    one.migrate().await.unwrap();
    let two = Store::connect(&url).await.unwrap();
    let (client_one, client_two) = (client(), client());
    for round in 0..6 {
        let p = project(&one, "servers", &format!("p{round}")).await;
        let repository = registry.reference(&format!("servers/p{round}"));
        let pair = (images.source.as_str(), repository.as_str());
        let older = tested_build(&one, &client_one, &p, pair, &images.digests[0], QaState::Rc).await;
        let newer = tested_build(&one, &client_one, &p, pair, &images.digests[1], QaState::Rc).await;
        let address = registry.address();
        // Server one releases the older build while server two releases the newer, twice over (the same
        // promotion from both servers at once), in turns of who starts first.
        let (first, second) = if round % 2 == 0 { (&older, &newer) } else { (&newer, &older) };
        let (a, b, c) = tokio::join!(
            release_build(&one, &client_one, &address, first.id, "server one", false),
            release_build(&two, &client_two, &address, second.id, "server two", false),
            release_build(&two, &client_two, &address, newer.id, "server two", false),
        );
        for outcome in [a, b, c] {
            match outcome {
                Ok(_) => {}
                Err(ReleaseError::NotReleasable { reason, .. }) if reason.contains("newer build") => {}
                Err(ReleaseError::Promote(PromoteError::Superseded { .. })) => {}
                Err(err) => panic!("round {round}: {err}"),
            }
        }
        let digest = newer.digest.clone().unwrap();
        assert_eq!(tag_of(&client_one, &repository, "latest").await, Some(digest.clone()), "round {round}");
        let stable = two.stable_images(Some(p.id)).await.unwrap();
        assert_eq!(stable.first().map(|i| i.digest.clone()), Some(digest), "round {round}: stable");
        assert_eq!(one.image_of_build(newer.id).await.unwrap().unwrap().qa_state, QaState::Released);
    }
    one.close().await.unwrap();
    two.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_set_release_that_fails_half_way_puts_every_tag_back() {
    let mut registry = Registry::start(Auth::None);
    let images = images(&registry);
    let client = client();
    let address = registry.address();
    for (backend, store, _dir) in stores("order_set").await {
        let app = format!("set{}", backend.to_lowercase());
        let (done, web, api) = (
            project(&store, &app, "done").await,
            project(&store, &app, "web").await,
            project(&store, &app, "api").await,
        );
        let repo = |job: &str| format!("{address}/{app}/{job}");
        let pair = |job: &str| (images.source.clone(), repo(job));
        let (src, r) = pair("done");
        let released = tested_build(&store, &client, &done, (&src, &r), &images.digests[0], QaState::Rc).await;
        release_build(&store, &client, &address, released.id, "earlier", false).await.unwrap();
        let (src, r) = pair("web");
        let web_build = tested_build(&store, &client, &web, (&src, &r), &images.digests[1], QaState::Rc).await;
        let (src, r) = pair("api");
        let api_build = tested_build(&store, &client, &api, (&src, &r), &images.digests[2], QaState::Rc).await;
        let tags_before = all_tags(&client, &[repo("done"), repo("web"), repo("api")]).await;

        // The registry is stopped between web and api: api's repository is locked until web's tags moved.
        store.try_lock_repository(&repo("api"), "the test", Duration::from_secs(300)).await.unwrap();
        let set = {
            let (store, client, address) = (store.clone(), client.clone(), address.clone());
            let ids = [released.id, web_build.id, api_build.id];
            tokio::spawn(async move { release_set(&store, &client, &address, &ids, "tester", false).await })
        };
        let web_digest = images.digests[1].clone();
        wait(&format!("{backend}: web released"), || async {
            tag_of(&client, &repo("web"), "latest").await.as_ref() == Some(&web_digest)
        })
        .await;
        registry.stop();
        store.unlock_repository(&repo("api"), "the test").await.unwrap();
        wait(&format!("{backend}: api's release failed"), || async {
            store.promotions(api_build.id).await.unwrap().iter().any(|p| !p.succeeded)
        })
        .await;
        registry.restart();
        let outcome = set.await.unwrap();
        let Err(ReleaseError::SetFailed { restored, not_restored, .. }) = &outcome else {
            panic!("{backend}: the set fails: {outcome:?}");
        };
        assert!(not_restored.is_empty(), "{backend}: every tag put back: {not_restored:?}");
        assert_eq!(*restored, 2, "{backend}: web's latest and identity tags removed again");
        let tags_after = all_tags(&client, &[repo("done"), repo("web"), repo("api")]).await;
        assert_eq!(tags_after, tags_before, "{backend}: every tag is as it was");
        let state = |id| {
            let store = store.clone();
            async move { store.image_of_build(id).await.unwrap().unwrap().qa_state }
        };
        assert_eq!(state(released.id).await, QaState::Released, "{backend}: the released member stays released");
        assert_eq!(state(web_build.id).await, QaState::Rc, "{backend}: web is back at rc");
        assert_eq!(state(api_build.id).await, QaState::Rc, "{backend}: api is still at rc");
        assert_eq!(store.release_head(web.id, Tier::Release).await.unwrap(), None, "{backend}: web's head is back");
        assert_eq!(
            store.stable_images(Some(done.id)).await.unwrap().first().map(|i| i.digest.clone()),
            Some(images.digests[0].clone())
        );

        // With the registry down before anything moves, the set stops at once and moves nothing.
        registry.stop();
        let refused = release_set(&store, &client, &address, &[web_build.id, api_build.id], "tester", false).await;
        registry.restart();
        assert!(matches!(refused, Err(ReleaseError::BeforeUnknown { .. })), "{backend}: {refused:?}");
        assert_eq!(all_tags(&client, &[repo("done"), repo("web"), repo("api")]).await, tags_before);
    }
}

/// Every tag of `repositories`, with its digest, sorted.
async fn all_tags(client: &RegistryClient, repositories: &[String]) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for repository in repositories {
        let parsed: slipway_registry::Repository = repository.parse().unwrap();
        let tags = match client.list_tags(&parsed).await {
            Ok(tags) => tags,
            // A repository holding untagged manifests only.
            Err(slipway_registry::RegistryError::NameUnknown { .. }) => Vec::new(),
            Err(err) => panic!("listing {repository}: {err}"),
        };
        for tag in tags {
            let digest = tag_of(client, repository, &tag).await.unwrap_or_default();
            all.push((format!("{repository}:{tag}"), digest));
        }
    }
    all.sort();
    all
}

async fn wait<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(90), "not within 90 s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
