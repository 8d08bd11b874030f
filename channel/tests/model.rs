//! Model check: random sequences of operations, issued one at a time from several handles,
//! give the same observable results as a sequential model of the channel.

use std::{
    collections::{BTreeSet, VecDeque},
    time::Duration,
};

use helio::prelude::*;
use helio_channel::{RayChannelActor, SingleResult, Status, Validator};
use proptest::prelude::*;

const CAPACITY: usize = 4;
const NOW: Option<Duration> = Some(Duration::ZERO);

#[derive(Clone, Debug)]
enum Op {
    Put(i32),
    PutNowait(i32),
    PutBatch(Vec<i32>),
    Get,
    GetNowait,
    GetBatch(usize),
    RegisterSender,
    DeregisterSender,
    RegisterReceiver(u8),
    DeregisterReceiver(u8),
    Stats,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-2..20i32).prop_map(Op::Put),
        4 => (-2..20i32).prop_map(Op::PutNowait),
        2 => prop::collection::vec(-1..20i32, 0..6).prop_map(Op::PutBatch),
        4 => Just(Op::Get),
        3 => Just(Op::GetNowait),
        2 => (0..6usize).prop_map(Op::GetBatch),
        1 => Just(Op::RegisterSender),
        1 => Just(Op::DeregisterSender),
        1 => (0..3u8).prop_map(Op::RegisterReceiver),
        1 => (0..3u8).prop_map(Op::DeregisterReceiver),
        1 => Just(Op::Stats),
    ]
}

/// What an operation returned, comparable between the actor and the model.
#[derive(Debug, PartialEq)]
enum Seen {
    Status(Status),
    Items(Status, Vec<i32>),
    Sizes(usize, usize, usize, bool, bool),
}

/// The channel as a plain sequential data structure.
#[derive(Default)]
struct Model {
    queue: VecDeque<i32>,
    senders: usize,
    senders_closed: bool,
    receivers: BTreeSet<u8>,
    receivers_closed: bool,
}

impl Model {
    fn put(&mut self, items: Vec<i32>) -> Seen {
        // Closed first, either way (the original actor checks `senders_closed` first).
        let status = if self.senders_closed || self.receivers_closed {
            Status::Closed
        } else if items.iter().any(|v| *v < 0) {
            Status::TypeError
        } else if self.queue.len() + items.len() > CAPACITY {
            Status::Full
        } else {
            self.queue.extend(items);
            Status::Ok
        };
        Seen::Status(status)
    }

    fn get(&mut self, max: usize) -> Seen {
        if max == 0 {
            return Seen::Items(Status::Empty, vec![]);
        }
        if self.queue.is_empty() {
            let status = if self.senders_closed {
                Status::Closed
            } else {
                Status::Empty
            };
            return Seen::Items(status, vec![]);
        }
        let n = max.min(self.queue.len());
        Seen::Items(Status::Ok, self.queue.drain(..n).collect())
    }

    fn apply(&mut self, op: &Op) -> Seen {
        match op {
            Op::Put(v) | Op::PutNowait(v) => self.put(vec![*v]),
            Op::PutBatch(items) => self.put(items.clone()),
            Op::Get | Op::GetNowait => self.get(1),
            Op::GetBatch(max) => self.get(*max),
            Op::RegisterSender if self.senders_closed => Seen::Status(Status::Closed),
            Op::RegisterSender => {
                self.senders += 1;
                Seen::Status(Status::Ok)
            }
            Op::DeregisterSender if self.senders == 0 => Seen::Status(Status::Closed),
            Op::DeregisterSender => {
                self.senders -= 1;
                self.senders_closed |= self.senders == 0;
                Seen::Status(Status::Ok)
            }
            Op::RegisterReceiver(_) if self.receivers_closed => Seen::Status(Status::Closed),
            Op::RegisterReceiver(id) => {
                self.receivers.insert(*id);
                Seen::Status(Status::Ok)
            }
            Op::DeregisterReceiver(id) if !self.receivers.remove(id) => Seen::Status(Status::Empty),
            Op::DeregisterReceiver(_) => {
                self.receivers_closed |= self.receivers.is_empty();
                Seen::Status(Status::Ok)
            }
            Op::Stats => Seen::Sizes(
                self.queue.len(),
                self.senders,
                self.receivers.len(),
                self.senders_closed,
                self.receivers_closed,
            ),
        }
    }
}

fn run(actor: &Actor<RayChannelActor<i32>>, op: &Op) -> Seen {
    let m = actor.methods();
    let wait = |r: ObjectRef<Status>| Seen::Status(r.get_timeout(Duration::from_secs(20)).unwrap());
    let single = |r: ObjectRef<SingleResult<i32>>| {
        let r = r.get_timeout(Duration::from_secs(20)).unwrap();
        Seen::Items(r.status, r.value.into_iter().collect())
    };
    match op {
        Op::Put(v) => wait(m.put().remote(*v, NOW)),
        Op::PutNowait(v) => wait(m.put_nowait().remote(*v)),
        Op::PutBatch(items) => wait(m.put_batch().remote(items.clone(), NOW)),
        Op::Get => single(m.get().remote(NOW, None)),
        Op::GetNowait => single(m.get_nowait().remote(None)),
        Op::GetBatch(max) => {
            let r = m.get_batch().remote(*max, NOW, None);
            let r = r.get_timeout(Duration::from_secs(20)).unwrap();
            Seen::Items(r.status, r.items)
        }
        Op::RegisterSender => wait(m.register_sender().remote()),
        Op::DeregisterSender => wait(m.deregister_sender().remote()),
        Op::RegisterReceiver(id) => wait(m.register_receiver().remote(id.to_string(), "n")),
        Op::DeregisterReceiver(id) => wait(m.deregister_receiver().remote(id.to_string())),
        Op::Stats => {
            let s = m
                .stats()
                .remote()
                .get_timeout(Duration::from_secs(20))
                .unwrap();
            Seen::Sizes(
                s.queue_size,
                s.senders,
                s.receivers,
                s.senders_closed,
                s.receivers_closed,
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_actor_behaves_like_the_sequential_model(
        ops in prop::collection::vec((0..3usize, op()), 1..60)
    ) {
        let validator = Validator::new(|v: &i32| *v >= 0);
        let actor = RayChannelActor::new_actor().remote(Some(CAPACITY), false, Some(validator));
        let handles = [actor.clone(), actor.clone(), actor];
        let mut model = Model::default();
        for (handle, op) in &ops {
            let seen = run(&handles[*handle], op);
            prop_assert_eq!(seen, model.apply(op), "after {:?}", op);
        }
    }
}
