//! The release order's records: heads move forward by compare-and-set (and back only when forced), a failed
//! move is undone only while it is still the head, and repository locks are exclusive until released or lapsed.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{build, on_both, project};
use slipway_store::{HeadMove, HeadOutcome, LockAttempt, Store, Tier};
use tokio::sync::Barrier;

fn head_move(project_id: i64, build: &slipway_store::Build, forced: bool) -> HeadMove<'static> {
    HeadMove {
        project_id,
        tier: Tier::Release,
        build_id: build.id,
        build_number: build.number,
        digest: if build.number % 2 == 0 { "sha256:even" } else { "sha256:odd" },
        by: "test",
        forced,
    }
}

#[tokio::test]
async fn a_head_moves_forward_only_unless_forced() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let (b1, b2, b3) = (build(&store, &p, &[]).await, build(&store, &p, &[]).await, build(&store, &p, &[]).await);
        assert_eq!(store.move_head(&head_move(p.id, &b2, false)).await.unwrap(), HeadOutcome::Moved { previous: None });
        match store.move_head(&head_move(p.id, &b1, false)).await.unwrap() {
            HeadOutcome::Refused { newer } => assert_eq!(newer.build_number, b2.number),
            moved => panic!("an older build moved the head: {moved:?}"),
        }
        assert_eq!(store.release_head(p.id, Tier::Release).await.unwrap().unwrap().build_id, b2.id);
        // The same build again (a retried delivery) and a newer one move it.
        assert!(matches!(store.move_head(&head_move(p.id, &b2, false)).await.unwrap(), HeadOutcome::Moved { .. }));
        assert!(matches!(store.move_head(&head_move(p.id, &b3, false)).await.unwrap(), HeadOutcome::Moved { .. }));
        // A person's rollback goes back on purpose.
        let HeadOutcome::Moved { previous } = store.move_head(&head_move(p.id, &b1, true)).await.unwrap() else {
            panic!("a forced move is never refused");
        };
        assert_eq!(previous.unwrap().build_id, b3.id);
        assert_eq!(store.release_head(p.id, Tier::Release).await.unwrap().unwrap().build_id, b1.id);
        assert_eq!(store.release_head(p.id, Tier::Rc).await.unwrap(), None, "tiers are apart");
    })
    .await;
}

#[tokio::test]
async fn a_failed_move_is_undone_only_while_it_is_still_the_head() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let (b1, b2, b3) = (build(&store, &p, &[]).await, build(&store, &p, &[]).await, build(&store, &p, &[]).await);
        store.move_head(&head_move(p.id, &b1, false)).await.unwrap();
        let HeadOutcome::Moved { previous } = store.move_head(&head_move(p.id, &b2, false)).await.unwrap() else {
            panic!("b2 is newer");
        };
        assert!(store.restore_head(p.id, Tier::Release, b2.id, previous.as_ref()).await.unwrap());
        assert_eq!(store.release_head(p.id, Tier::Release).await.unwrap().unwrap().build_id, b1.id);

        let HeadOutcome::Moved { previous } = store.move_head(&head_move(p.id, &b2, false)).await.unwrap() else {
            panic!("b2 is newer");
        };
        store.move_head(&head_move(p.id, &b3, false)).await.unwrap();
        assert!(!store.restore_head(p.id, Tier::Release, b2.id, previous.as_ref()).await.unwrap(), "b3 came since");
        assert_eq!(store.release_head(p.id, Tier::Release).await.unwrap().unwrap().build_id, b3.id);
    })
    .await;
}

/// Many writers move one head at once, in every order: it ends on the newest build.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_moves_leave_the_newest_build_at_the_head() {
    on_both(|store| async move {
        const BUILDS: usize = 12;
        let p = project(&store, "p").await;
        let mut builds = Vec::new();
        for _ in 0..BUILDS {
            builds.push(build(&store, &p, &[]).await);
        }
        let barrier = Arc::new(Barrier::new(BUILDS));
        let movers: Vec<_> = builds
            .iter()
            .rev()
            .cloned()
            .map(|b| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.move_head(&head_move(p.id, &b, false)).await.unwrap()
                })
            })
            .collect();
        for mover in movers {
            mover.await.unwrap();
        }
        let newest = builds.last().unwrap();
        assert_eq!(store.release_head(p.id, Tier::Release).await.unwrap().unwrap().build_id, newest.id);
    })
    .await;
}

#[tokio::test]
async fn a_repository_lock_is_exclusive_until_released_or_lapsed() {
    on_both(|store: Store| async move {
        let (repo, long, short) = ("127.0.0.1:5555/app/p", Duration::from_secs(60), Duration::from_millis(5));
        assert_eq!(store.try_lock_repository(repo, "a", long).await.unwrap(), LockAttempt::Taken);
        assert_eq!(store.try_lock_repository(repo, "b", long).await.unwrap(), LockAttempt::Held { holder: "a".into() });
        assert_eq!(store.try_lock_repository(repo, "a", long).await.unwrap(), LockAttempt::Taken, "a renewal");
        assert_eq!(store.try_lock_repository("127.0.0.1:5555/app/q", "b", long).await.unwrap(), LockAttempt::Taken);
        store.unlock_repository(repo, "b").await.unwrap();
        assert!(matches!(store.try_lock_repository(repo, "b", long).await.unwrap(), LockAttempt::Held { .. }));
        store.unlock_repository(repo, "a").await.unwrap();
        assert_eq!(store.try_lock_repository(repo, "b", short).await.unwrap(), LockAttempt::Taken);
        tokio::time::sleep(short * 4).await;
        assert_eq!(store.try_lock_repository(repo, "c", long).await.unwrap(), LockAttempt::Taken, "b's lease lapsed");
    })
    .await;
}
