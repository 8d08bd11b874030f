//! The channel actor's behaviour, one rule per test, through `Actor<RayChannelActor<T>>`.

use std::time::Duration;

use helio::prelude::*;
use helio_channel::{BatchResult, RayChannelActor, SingleResult, Status, Validator};

const BOUND: Duration = Duration::from_secs(20);
const SHORT: Option<Duration> = Some(Duration::from_millis(20));

type Chan<T> = Actor<RayChannelActor<T>>;

#[track_caller]
fn get<T>(r: ObjectRef<T>) -> T {
    match r.get_timeout(BOUND) {
        Ok(value) => value,
        Err(err) => panic!("call failed or hung: {err}"),
    }
}

fn bounded(capacity: usize) -> Chan<i64> {
    RayChannelActor::new_actor().remote(Some(capacity), false, None)
}

fn ok(value: i64) -> SingleResult<i64> {
    SingleResult {
        status: Status::Ok,
        value: Some(value),
    }
}

#[test]
fn creation_returns_a_typed_handle_and_put_then_get_returns_the_item() {
    let chan: Chan<i64> = bounded(10);
    assert_eq!(get(chan.methods().capacity().remote()), Some(10));
    assert_eq!(get(chan.methods().put_nowait().remote(42)), Status::Ok);
    assert_eq!(get(chan.methods().get_nowait().remote(None)), ok(42));
    assert_eq!(
        get(chan.methods().get_nowait().remote(None)),
        SingleResult {
            status: Status::Empty,
            value: None
        }
    );
    assert_eq!(Status::TypeError.to_string(), "type_error");
}

#[test]
fn a_bounded_channel_needs_a_capacity() {
    let chan: Chan<i64> = RayChannelActor::new_actor().remote(None, false, None);
    assert!(matches!(
        get_err(chan.ready()),
        ActorError::InitFailed { .. }
    ));
    let unbounded: Chan<i64> = RayChannelActor::new_actor().remote(None, true, None);
    assert_eq!(get(unbounded.methods().capacity().remote()), None);
}

fn get_err<T: std::fmt::Debug>(r: ObjectRef<T>) -> ActorError {
    r.get_timeout(BOUND).expect_err("expected an error")
}

#[test]
fn the_validator_rejects_with_type_error_and_a_batch_inserts_nothing() {
    let even = Validator::new(|n: &i64| n % 2 == 0);
    let chan: Chan<i64> = RayChannelActor::new_actor().remote(Some(10), false, Some(even));
    assert_eq!(
        get(chan.methods().put_nowait().remote(3)),
        Status::TypeError
    );
    assert_eq!(
        get(chan.methods().put().remote(5, SHORT)),
        Status::TypeError
    );
    assert_eq!(
        get(chan.methods().put_nowait_batch().remote(vec![2, 4, 5])),
        Status::TypeError
    );
    assert_eq!(get(chan.methods().stats().remote()).queue_size, 0);
    assert_eq!(get(chan.methods().put_nowait().remote(2)), Status::Ok);
}

#[test]
fn senders_and_receivers_register_and_deregister() {
    let chan = bounded(4);
    let m = chan.methods();
    assert_eq!(get(m.register_sender().remote()), Status::Ok);
    assert_eq!(get(m.register_sender().remote()), Status::Ok);
    assert_eq!(
        get(m.register_receiver().remote("r1", "node-a")),
        Status::Ok
    );
    let stats = get(m.stats().remote());
    assert_eq!((stats.senders, stats.receivers), (2, 1));
    assert_eq!(get(m.deregister_sender().remote()), Status::Ok);
    assert!(!get(m.is_closed().remote()));
    assert_eq!(get(m.deregister_receiver().remote("nobody")), Status::Empty);
    let readers = get(m.reader_stats().remote());
    assert_eq!(readers.len(), 1);
    assert_eq!(
        (readers[0].reader_id.as_str(), readers[0].node_id.as_str()),
        ("r1", "node-a")
    );
}

#[test]
fn a_batch_of_five_then_get_batch_of_three_returns_the_first_three_in_order() {
    let chan = bounded(10);
    assert_eq!(
        get(chan.methods().put_batch().remote(vec![1, 2, 3, 4, 5], None)),
        Status::Ok
    );
    assert_eq!(
        get(chan.methods().get_batch().remote(3, None, None)),
        BatchResult {
            status: Status::Ok,
            items: vec![1, 2, 3]
        }
    );
    assert_eq!(
        get(chan.methods().get_batch().remote(10, None, None)),
        BatchResult {
            status: Status::Ok,
            items: vec![4, 5]
        }
    );
}

#[test]
fn the_last_sender_leaving_wakes_blocked_getters_with_closed() {
    let chan = bounded(4);
    let m = chan.methods();
    get(m.register_sender().remote());
    get(m.put_nowait().remote(1));
    assert_eq!(get(m.get_nowait().remote(None)), ok(1));
    // Two getters wait without a timeout: only the close can end their wait.
    let waiting: Vec<_> = (0..2).map(|_| m.get().remote(None, None)).collect();
    get(m.deregister_sender().remote());
    for r in waiting {
        assert_eq!(
            get(r),
            SingleResult {
                status: Status::Closed,
                value: None
            }
        );
    }
    assert_eq!(get(m.get_nowait().remote(None)).status, Status::Closed);
    assert_eq!(
        get(m.register_sender().remote()),
        Status::Closed,
        "closing is final"
    );
    assert!(get(m.is_closed().remote()));
}

#[test]
fn a_closed_channel_is_drained_before_it_reports_closed() {
    let chan = bounded(4);
    let m = chan.methods();
    get(m.register_sender().remote());
    get(m.put_nowait_batch().remote(vec![1, 2]));
    get(m.deregister_sender().remote());
    assert_eq!(get(m.get().remote(None, None)), ok(1));
    assert_eq!(get(m.get_batch().remote(5, None, None)).items, vec![2]);
    assert_eq!(
        get(m.get_batch().remote(5, None, None)).status,
        Status::Closed
    );
}

#[test]
fn the_last_receiver_leaving_wakes_blocked_puts_with_closed() {
    let chan = bounded(1);
    let m = chan.methods();
    get(m.register_receiver().remote("r", "n"));
    get(m.put_nowait().remote(1));
    let blocked = m.put().remote(2, None); // full: waits without a timeout
    get(m.deregister_receiver().remote("r"));
    assert_eq!(get(blocked), Status::Closed);
    assert_eq!(get(m.put_nowait().remote(3)), Status::Closed);
}

#[test]
fn batch_puts_are_atomic() {
    let chan = bounded(4);
    let m = chan.methods();
    get(m.put_nowait_batch().remote(vec![1, 2, 3]));
    assert_eq!(get(m.put_nowait_batch().remote(vec![4, 5])), Status::Full);
    assert_eq!(get(m.put_batch().remote(vec![4, 5], SHORT)), Status::Full);
    assert_eq!(
        get(m.stats().remote()).queue_size,
        3,
        "nothing of a refused batch went in"
    );
    // Larger than the capacity: `Full` at once, even without a timeout.
    assert_eq!(get(m.put_batch().remote(vec![0; 5], None)), Status::Full);
    // A waiting batch goes in whole once there is room for all of it.
    let waiting = m.put_batch().remote(vec![4, 5], None);
    assert_eq!(get(m.get_nowait().remote(None)), ok(1));
    assert_eq!(get(waiting), Status::Ok);
    assert_eq!(
        get(m.get_batch().remote(10, None, None)).items,
        vec![2, 3, 4, 5]
    );
}

#[test]
fn get_batch_waits_for_the_first_item_then_takes_what_is_there() {
    let chan = bounded(10);
    let m = chan.methods();
    let waiting = m.get_batch().remote(3, None, None);
    assert_eq!(get(m.put_nowait().remote(7)), Status::Ok);
    assert_eq!(
        get(waiting),
        BatchResult {
            status: Status::Ok,
            items: vec![7]
        }
    );
    assert_eq!(
        get(m.get_batch().remote(3, SHORT, None)).status,
        Status::Empty
    );
}

#[test]
fn timeouts_give_empty_and_full() {
    let chan = bounded(1);
    let m = chan.methods();
    assert_eq!(get(m.get().remote(SHORT, None)).status, Status::Empty);
    get(m.put().remote(1, SHORT));
    assert_eq!(get(m.put().remote(2, SHORT)), Status::Full);
    assert_eq!(get(m.get().remote(SHORT, None)), ok(1));
}

#[test]
fn actor_options_are_honoured() {
    let chan: Chan<String> = RayChannelActor::new_actor()
        .options(
            ActorOptions::new()
                .name("orders")
                .namespace("channel-tests"),
        )
        .remote(Some(2), false, None);
    get(chan.methods().put_nowait().remote("a".to_owned()));
    let found = helio::get_actor_in::<RayChannelActor<String>>("channel-tests", "orders").unwrap();
    assert_eq!(found, chan);
    assert!(helio::get_actor_in::<RayChannelActor<i64>>("channel-tests", "orders").is_err());
    assert_eq!(
        get(found.methods().get_nowait().remote(None))
            .value
            .as_deref(),
        Some("a")
    );
}

#[test]
fn an_unbounded_channel_takes_100_000_items() {
    let chan: Chan<u32> = RayChannelActor::new_actor().remote(None, true, None);
    let m = chan.methods();
    for chunk in (0..100_000u32).collect::<Vec<_>>().chunks(10_000) {
        assert_eq!(get(m.put_nowait_batch().remote(chunk.to_vec())), Status::Ok);
    }
    let stats = get(m.stats().remote());
    assert_eq!(
        (stats.queue_size, stats.high_watermark, stats.total_sent),
        (100_000, 100_000, 100_000)
    );
    let mut next = 0;
    while next < 100_000 {
        let batch = get(m.get_batch().remote(7_000, None, None));
        for item in batch.items {
            assert_eq!(item, next);
            next += 1;
        }
    }
}

#[test]
fn items_keep_one_global_order_across_producers() {
    let chan = bounded(64);
    let producers: Vec<_> = (0..4i64)
        .map(|p| {
            let chan = chan.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    assert_eq!(
                        get(chan.methods().put().remote(p * 1_000 + i, None)),
                        Status::Ok
                    );
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    while seen.len() < 2_000 {
        seen.extend(get(chan.methods().get_batch().remote(100, None, None)).items);
    }
    for producer in producers {
        producer.join().unwrap();
    }
    for p in 0..4 {
        let own: Vec<i64> = seen.iter().copied().filter(|v| v / 1_000 == p).collect();
        assert_eq!(own, (0..500).map(|i| p * 1_000 + i).collect::<Vec<_>>());
    }
    let stats = get(chan.methods().stats().remote());
    assert_eq!(
        (stats.total_sent, stats.total_received, stats.queue_size),
        (2_000, 2_000, 0)
    );
}

#[test]
fn reader_stats_count_single_and_batch_gets() {
    let chan = bounded(10);
    let m = chan.methods();
    get(m.register_receiver().remote("r1", "node"));
    get(m.put_nowait_batch().remote(vec![1, 2, 3, 4]));
    get(m.get().remote(None, Some("r1".into())));
    get(m.get_nowait().remote(Some("r1".into())));
    get(m.get_batch().remote(2, None, Some("r1".into())));
    let readers = get(m.reader_stats().remote());
    assert_eq!(readers[0].total_received, 4);
    assert!(readers[0].last_seen_at >= readers[0].registered_at);
}

#[test]
fn a_cancelled_waiting_get_takes_no_item() {
    let chan = bounded(4);
    let m = chan.methods();
    let waiting = m.get().remote(None, None);
    assert_eq!(get(m.stats().remote()).queue_size, 0); // `get` is waiting by now
    assert!(waiting.cancel());
    assert!(matches!(
        waiting.get_timeout(BOUND),
        Err(ActorError::Cancelled { .. })
    ));
    assert_eq!(get(m.put_nowait().remote(5)), Status::Ok);
    assert_eq!(
        get(m.get_nowait().remote(None)),
        ok(5),
        "the item went to the next reader"
    );
}

/// Channel issue: once the last registered sender deregisters, every put is `Closed` (the
/// original actor checks `senders_closed` first), even with room left.
#[test]
fn puts_after_the_last_sender_deregisters_are_closed() {
    let chan = bounded(4);
    assert_eq!(get(chan.methods().register_sender().remote()), Status::Ok);
    assert_eq!(get(chan.methods().put_nowait().remote(1)), Status::Ok);
    assert_eq!(get(chan.methods().deregister_sender().remote()), Status::Ok);
    assert_eq!(get(chan.methods().put_nowait().remote(2)), Status::Closed);
    assert_eq!(get(chan.methods().put().remote(3, SHORT)), Status::Closed);
    assert_eq!(
        get(chan.methods().put_batch().remote(vec![4, 5], SHORT)),
        Status::Closed
    );
    assert_eq!(
        get(chan.methods().put_nowait_batch().remote(vec![6])),
        Status::Closed
    );
    // What was sent before still drains, then gets say `Closed`.
    assert_eq!(get(chan.methods().get_nowait().remote(None)), ok(1));
    assert_eq!(
        get(chan.methods().get_nowait().remote(None)).status,
        Status::Closed
    );
}

/// Channel issue: a validator that panics is that put's `TypeError`; the buffer stays intact
/// and the actor does not restart.
#[test]
fn a_panicking_validator_is_a_type_error_and_keeps_the_buffer() {
    let validator = Validator::new(|item: &i64| {
        assert!(*item >= 0, "negative item");
        true
    });
    let chan: Chan<i64> = RayChannelActor::new_actor().remote(Some(4), false, Some(validator));
    assert_eq!(get(chan.methods().put_nowait().remote(1)), Status::Ok);
    assert_eq!(
        get(chan.methods().put_nowait().remote(-1)),
        Status::TypeError
    );
    assert_eq!(
        get(chan.methods().put().remote(-2, SHORT)),
        Status::TypeError
    );
    assert_eq!(get(chan.methods().get_nowait().remote(None)), ok(1));
    assert_eq!(chan.restarts(), 0);
}

/// Channel issue: a crash (`kill(&chan, false)`; the actor has restarts left) keeps the queued
/// items and the registrations, so the channel still closes and nothing hangs.
#[test]
fn a_restart_keeps_the_items_and_the_registrations() {
    let chan = bounded(4);
    assert_eq!(get(chan.methods().register_sender().remote()), Status::Ok);
    let reader = || "r".to_owned();
    assert_eq!(
        get(chan.methods().register_receiver().remote(reader(), "n")),
        Status::Ok
    );
    for i in 1..=3 {
        assert_eq!(get(chan.methods().put_nowait().remote(i)), Status::Ok);
    }
    helio::kill(&chan, false);
    let deadline = std::time::Instant::now() + BOUND;
    while chan.restarts() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no restart within {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // Served by the new instance: calls wait while its constructor runs.
    let stats = get(chan.methods().stats().remote());
    assert_eq!(
        (stats.queue_size, stats.senders, stats.receivers),
        (3, 1, 1)
    );
    assert_eq!(get(chan.methods().deregister_sender().remote()), Status::Ok);
    for i in 1..=3 {
        assert_eq!(
            get(chan.methods().get().remote(SHORT, Some(reader()))),
            ok(i)
        );
    }
    assert_eq!(
        get(chan.methods().get().remote(None, Some(reader()))).status,
        Status::Closed
    );
}
