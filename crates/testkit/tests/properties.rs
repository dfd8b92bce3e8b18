//! Property tests of the driver and the in-memory store (issue: core crate): random
//! sequences of rotations, steps, retries and injected store/rotator failures keep the
//! label invariants, finished rotations leave the old current as AWSPREVIOUS, and every
//! step run twice equals the step run once.

use std::sync::Arc;

use proptest::prelude::*;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Layered, MemoryStore, SecretStore};
use rotwise_core::{Driver, LoginProbe, Rotator, Step};
use rotwise_testkit::faults::{Fault, FaultPlan, FaultyRotator, FaultyStore, When};
use rotwise_testkit::toy::{ToyRotator, ToyTarget};
use rotwise_testkit::{LocalService, StepHandler};

const CALLS: [&str; 7] = [
    "DescribeSecret",
    "GetSecretValue",
    "PutSecretValue",
    "UpdateSecretVersionStage",
    "next_value",
    "set",
    "test",
];

#[derive(Clone, Debug)]
enum Op {
    Begin,
    Step(usize),
    FaultyStep {
        step: usize,
        call: usize,
        nth: usize,
        after: bool,
    },
    Retry,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Begin),
        4 => (0..4usize).prop_map(Op::Step),
        3 => (0..4usize, 0..CALLS.len(), 0..2usize, any::<bool>())
            .prop_map(|(step, call, nth, after)| Op::FaultyStep { step, call, nth, after }),
        1 => Just(Op::Retry),
    ]
}

struct World {
    store: Arc<MemoryStore>,
    service: LocalService,
    handler: Driver,
    plan: FaultPlan,
    target: ToyTarget,
    secret: String,
}

impl World {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let secret = store
            .insert_secret("prop", r#"{"username":"u","password":"p0"}"#)
            .unwrap();
        let target = ToyTarget::with_user("u", "p0");
        let plan = FaultPlan::default();
        let rotator: Arc<dyn Rotator> = Arc::new(FaultyRotator::new(
            Arc::new(ToyRotator::new(target.clone())),
            plan.clone(),
        ));
        let faulty: Arc<dyn SecretStore> =
            Arc::new(Layered(FaultyStore::new(store.clone(), plan.clone())));
        World {
            service: LocalService::new(store.clone()),
            handler: Driver::new(faulty, rotator),
            store,
            plan,
            target,
            secret,
        }
    }

    async fn labels(&self) -> (String, Option<String>, Option<String>) {
        let d = self.store.describe_secret(&self.secret).await.unwrap();
        let holders = |stage| {
            d.versions
                .iter()
                .filter(|(_, s)| s.iter().any(|x| x == stage))
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>()
        };
        let current = holders(AWSCURRENT);
        assert_eq!(current.len(), 1, "exactly one AWSCURRENT: {d:?}");
        let pending = holders(AWSPENDING);
        assert!(pending.len() <= 1, "at most one AWSPENDING: {d:?}");
        let previous = holders(AWSPREVIOUS);
        assert!(previous.len() <= 1, "at most one AWSPREVIOUS: {d:?}");
        (
            current[0].clone(),
            pending.into_iter().next(),
            previous.into_iter().next(),
        )
    }

    async fn step(&self, token: &str, step: Step) -> bool {
        self.service
            .invoke(&self.secret, token, step, &self.handler as &dyn StepHandler)
            .await
            .is_ok()
    }
}

async fn run_ops(ops: Vec<Op>) {
    let w = World::new();
    let mut rotation: Option<(String, String)> = None; // (token, old current)
    // The service invokes steps in order and never skips one that failed; retries and
    // repeats of earlier steps are fair game. `reached` is the next step not yet done.
    let mut reached = 0usize;
    for op in ops {
        let before = w.labels().await;
        match (&op, &rotation) {
            (Op::Begin, _) => match w.service.begin(&w.secret) {
                Ok(token) => {
                    rotation = Some((token, before.0.clone()));
                    reached = 0;
                }
                Err(e) => {
                    // Refused exactly when another version holds AWSPENDING without AWSCURRENT.
                    assert!(before.1.as_ref().is_some_and(|p| *p != before.0), "{e}");
                    assert!(
                        e.message.contains("A previous rotation isn't complete"),
                        "{e}"
                    );
                }
            },
            (Op::Step(i), Some((token, _))) => {
                let i = (*i).min(reached);
                let step = Step::ALL[i];
                if w.step(token, step).await {
                    reached = reached.max(i + 1);
                    // A step run twice equals the step run once.
                    let once = w.store.snapshot();
                    let accepts_once = w.target.accepts(&current_value(&w).await).await.unwrap();
                    assert!(w.step(token, step).await, "{step} failed when repeated");
                    assert_eq!(w.store.snapshot(), once, "{step} twice != once");
                    assert_eq!(
                        w.target.accepts(&current_value(&w).await).await.unwrap(),
                        accepts_once
                    );
                }
            }
            (
                Op::FaultyStep {
                    step,
                    call,
                    nth,
                    after,
                },
                Some((token, _)),
            ) => {
                w.plan.arm(Fault {
                    call: CALLS[*call].to_string(),
                    nth: *nth,
                    when: if *after { When::After } else { When::Before },
                });
                let i = (*step).min(reached);
                if w.step(token, Step::ALL[i]).await {
                    reached = reached.max(i + 1);
                }
                w.plan.clear();
            }
            (Op::Retry, Some((token, _))) => {
                w.service
                    .resume(&w.secret, token, &w.handler)
                    .await
                    .unwrap_or_else(|e| panic!("a retry must complete the rotation: {e}"));
                reached = 4;
            }
            (_, None) => {}
        }
        let after = w.labels().await;
        if let Some((token, old)) = &rotation
            && after.0 == *token
            && before.0 != *token
        {
            // The rotation just finished: the old current is now AWSPREVIOUS.
            assert_eq!(
                after.2.as_deref(),
                Some(old.as_str()),
                "AWSPREVIOUS after {op:?}"
            );
            w.store.complete_rotation(&w.secret, token).unwrap();
        }
    }
    // Whatever happened, a retry completes the open rotation and AWSCURRENT works.
    if let Some((token, _)) = &rotation {
        w.service
            .resume(&w.secret, token, &w.handler)
            .await
            .unwrap_or_else(|e| panic!("the final retry must complete: {e}"));
    }
    assert!(w.target.accepts(&current_value(&w).await).await.unwrap());
}

async fn current_value(w: &World) -> rotwise_core::SecretPayload {
    w.store
        .get_secret_value(&w.secret, None, Some(AWSCURRENT))
        .await
        .unwrap()
        .payload
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_steps_retries_and_faults_keep_the_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(run_ops(ops));
    }
}
