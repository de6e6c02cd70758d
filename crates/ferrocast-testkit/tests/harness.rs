//! SyncHarness through the testkit: no runtime, probes as collaborators.

use ferrocast_actor::{Actor, ActorError, ActorRef, Context};
use ferrocast_testkit::{HarnessError, SyncHarness, TestProbe};

/// Keeps a running total, reports it to `report_to`, and hands work above a
/// limit to a child it spawns on first need.
struct Accountant {
    total: u64,
    limit: u64,
}

enum Entry {
    Book {
        amount: u64,
        report_to: ActorRef<u64>,
    },
    Close,
}

struct Auditor;

impl Actor for Auditor {
    type Msg = u64;
    async fn handle(&mut self, _amount: u64, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }
}

impl Actor for Accountant {
    type Msg = Entry;
    async fn handle(&mut self, msg: Entry, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Entry::Book { amount, report_to } => {
                if amount > self.limit {
                    let auditor = match ctx.child("auditor") {
                        Some(_) => return Err(ActorError::msg("one audit at a time")),
                        None => ctx.spawn("auditor", || Auditor)?,
                    };
                    auditor.tell(amount);
                    return Ok(());
                }
                self.total += amount;
                report_to.tell(self.total);
            }
            Entry::Close => ctx.stop(),
        }
        Ok(())
    }
}

fn harness() -> SyncHarness<Accountant> {
    SyncHarness::new(|| Accountant {
        total: 0,
        limit: 100,
    })
    .unwrap()
}

#[test]
fn replies_reach_a_probe_without_a_runtime() {
    let mut h = harness();
    let mut probe = TestProbe::new(h.system());
    for amount in [10, 20] {
        h.run(Entry::Book {
            amount,
            report_to: probe.actor_ref(),
        })
        .unwrap();
    }
    assert_eq!(probe.try_receive(), Some(10));
    assert_eq!(probe.try_receive(), Some(30));
    assert_eq!(probe.try_receive(), None);
    assert_eq!(h.actor().total, 30);
}

#[test]
fn spawning_is_an_effect_to_inspect() {
    let mut h = harness();
    let probe = TestProbe::new(h.system());
    let big = |amount| Entry::Book {
        amount,
        report_to: probe.actor_ref(),
    };
    assert!(h.children().is_empty());
    h.run(big(500)).unwrap();
    let auditor = h.child("auditor").expect("auditor spawned");
    assert_eq!(auditor.path().as_str(), "/user/testkit/auditor");
    assert!(matches!(h.run(big(600)), Err(HarnessError::Failed(_))));
    assert!(h.is_suspended());
    h.resume().unwrap();
    assert_eq!(h.children(), [auditor]);
}

#[tokio::test(start_paused = true)]
async fn a_probe_sees_the_harnessed_actor_stop() {
    let mut h = harness();
    let mut probe = TestProbe::<u64>::new(h.system());
    let me = h.actor_ref();
    probe.watch(&me);
    h.run(Entry::Close).unwrap();
    assert!(h.is_stopped());
    probe
        .expect_terminated(&me, std::time::Duration::from_secs(1))
        .await;
}
