//! Channel issue: many waiters never wedge the channel, and dropped sends and receives
//! withdraw their waiting call without losing an item.

use std::{future::Future, task::Poll, time::Duration};

use helio::prelude::*;
use helio_channel::{ChannelError, RayChannelActor, Status, channel};

const BOUND: Duration = Duration::from_secs(60);
const WAITERS: usize = 10_000;

/// Runs `fut` bounded by [`BOUND`], failing loudly if it hangs.
async fn within<F: std::future::IntoFuture>(fut: F) -> F::Output {
    tokio::time::timeout(BOUND, fut)
        .await
        .expect("not done within the bound")
}

/// Polls `fut` once, so its call is sent, and hands it back pending.
async fn started<F: Future + Unpin>(mut fut: F) -> F {
    std::future::poll_fn(|cx| {
        assert!(
            matches!(std::pin::Pin::new(&mut fut).poll(cx), Poll::Pending),
            "expected the call to wait"
        );
        Poll::Ready(())
    })
    .await;
    fut
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_blocked_senders_do_not_wedge_the_channel() {
    let chan: Actor<RayChannelActor<u64>> =
        RayChannelActor::new_actor().remote(Some(1), false, None);
    let m = chan.methods();
    assert_eq!(within(m.put_nowait().remote(0)).await, Ok(Status::Ok));
    let blocked: Vec<_> = (1..=WAITERS as u64)
        .map(|i| m.put().remote(i, None))
        .collect();
    // Every other kind of call is still served while they wait.
    let stats = within(m.stats().remote()).await.unwrap();
    assert_eq!(stats.queue_size, 1);
    assert_eq!(within(m.put_nowait().remote(99)).await, Ok(Status::Full));
    // Each get frees the slot for the next sender, in order.
    for expected in 0..=WAITERS as u64 {
        let got = within(m.get().remote(None, None)).await.unwrap();
        assert_eq!(got.value, Some(expected));
    }
    for put in blocked {
        assert_eq!(within(put).await, Ok(Status::Ok));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_waiting_receivers_do_not_wedge_the_channel() {
    let chan: Actor<RayChannelActor<u64>> = RayChannelActor::new_actor().remote(None, true, None);
    let m = chan.methods();
    let waiting: Vec<_> = (0..WAITERS).map(|_| m.get().remote(None, None)).collect();
    let stats = within(m.stats().remote()).await.unwrap();
    assert_eq!(stats.queue_size, 0);
    for i in 0..WAITERS as u64 {
        assert_eq!(within(m.put_nowait().remote(i)).await, Ok(Status::Ok));
    }
    let mut got: Vec<u64> = Vec::new();
    for get in waiting {
        got.extend(within(get).await.unwrap().value);
    }
    got.sort_unstable();
    assert_eq!(got, (0..WAITERS as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_send_withdraws_its_put() {
    let (tx, rx) = channel::<u32>(1);
    within(tx.send(1)).await.unwrap();
    let waiting = started(Box::pin(tx.send(2))).await;
    drop(waiting);
    assert_eq!(within(rx.recv()).await, Ok(1));
    // The withdrawn put never lands, even though there is room now.
    assert_eq!(
        within(rx.recv_timeout(Duration::from_millis(50))).await,
        Err(ChannelError::Timeout)
    );
    within(tx.send(3)).await.unwrap();
    assert_eq!(within(rx.recv()).await, Ok(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_recv_loses_no_item() {
    let (tx, rx) = channel::<u32>(4);
    for round in 0..50 {
        let waiting = started(Box::pin(rx.recv())).await;
        within(tx.send(round)).await.unwrap();
        // Dropped after the item may already have been taken: it must come back.
        drop(waiting);
        assert_eq!(within(rx.recv()).await, Ok(round));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recv_batch_cut_by_a_timeout_loses_no_item() {
    let (tx, rx) = channel::<u32>(64);
    for round in 0..50u32 {
        let mut cut = Box::pin(tokio::time::timeout(Duration::ZERO, rx.recv_batch(8)));
        within(tx.send_batch(vec![round; 3])).await.unwrap();
        // Whatever the cut receive got counts; what it took but never returned must come back
        // once it is dropped.
        let mut got = match (&mut cut).await {
            Ok(items) => items.unwrap(),
            Err(_elapsed) => Vec::new(),
        };
        drop(cut);
        while got.len() < 3 {
            got.extend(within(rx.recv_batch(8)).await.unwrap());
        }
        assert_eq!(got, vec![round; 3]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_recv_batch_loses_no_item() {
    let (tx, rx) = channel::<u32>(64);
    for round in 0..50u32 {
        let waiting = started(Box::pin(rx.recv_batch(8))).await;
        within(tx.send_batch(vec![round; 3])).await.unwrap();
        // Dropped after its get may already have taken the items: they must come back.
        drop(waiting);
        let mut got = Vec::new();
        while got.len() < 3 {
            got.extend(within(rx.recv_batch(8)).await.unwrap());
        }
        assert_eq!(got, vec![round; 3]);
    }
}
