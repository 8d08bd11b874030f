//! The `Sender`/`Receiver` layer and named channels.

use std::time::Duration;

use futures::StreamExt;
use helio::prelude::*;
use helio_channel::{
    ChannelError, channel, channel_named, delete_channel, get_channel, list_channels, unbounded,
};

const BOUND: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(20);

/// Runs `fut` bounded by [`BOUND`], failing loudly if it hangs.
async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(BOUND, fut)
        .await
        .expect("not done within the bound")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_recv() {
    let (tx, rx) = channel::<u32>(4);
    within(tx.send(1)).await.unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(within(rx.recv()).await, Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(ChannelError::Empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_and_timeouts() {
    let (tx, rx) = channel::<u32>(1);
    tx.try_send(1).unwrap();
    assert_eq!(
        tx.try_send(2),
        Err(ChannelError::Full { capacity: Some(1) })
    );
    assert_eq!(
        within(tx.send_timeout(2, SHORT)).await,
        Err(ChannelError::Timeout)
    );
    assert_eq!(within(rx.recv_timeout(SHORT)).await, Ok(1));
    assert_eq!(
        within(rx.recv_timeout(SHORT)).await,
        Err(ChannelError::Timeout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches() {
    let (tx, rx) = unbounded::<u32>();
    within(tx.send_batch((0..10).collect())).await.unwrap();
    assert_eq!(within(rx.recv_batch(4)).await, Ok(vec![0, 1, 2, 3]));
    assert_eq!(
        within(rx.recv_batch(100)).await,
        Ok((4..10).collect::<Vec<_>>())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_sender_ends_the_stream_after_the_items() {
    let (tx, rx) = channel::<u32>(8);
    let tx2 = tx.clone();
    drop(tx);
    within(tx2.send_batch(vec![1, 2, 3])).await.unwrap();
    tx2.close();
    let items: Vec<u32> = within(rx.collect()).await;
    assert_eq!(items, [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_receiver_closes_the_senders() {
    let (tx, rx) = channel::<u32>(8);
    let rx2 = rx.clone();
    drop(rx);
    within(tx.send(1)).await.unwrap();
    drop(rx2);
    assert_eq!(within(tx.send(2)).await, Err(ChannelError::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_receiver_wakes_up_closed() {
    let (tx, rx) = channel::<u32>(8);
    let waiting = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    drop(tx);
    assert_eq!(within(waiting).await.unwrap(), Err(ChannelError::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_channels() {
    let (tx, rx) = channel_named::<String>("jobs", 4);
    within(tx.send("a".to_owned())).await.unwrap();
    let (tx2, rx2) = get_channel::<String>("jobs").unwrap();
    assert_eq!(within(rx2.recv()).await.as_deref(), Ok("a"));
    assert!(matches!(
        get_channel::<u8>("jobs"),
        Err(ChannelError::Lookup(_))
    ));
    assert!(matches!(
        get_channel::<String>("nope"),
        Err(ChannelError::Lookup(_))
    ));
    // Asking again by name reaches the same channel.
    let (tx3, _rx3) = channel_named::<String>("jobs", 99);
    within(tx3.send("b".to_owned())).await.unwrap();
    assert_eq!(within(rx.recv()).await.as_deref(), Ok("b"));
    assert!(list_channels().contains(&"jobs".to_owned()));
    delete_channel("jobs").unwrap();
    assert!(matches!(
        within(tx2.send("c".to_owned())).await,
        Err(ChannelError::Actor(ActorError::ActorDied {
            cause: DeathCause::Killed,
            ..
        }))
    ));
    assert!(!list_channels().contains(&"jobs".to_owned()));
    assert!(delete_channel("jobs").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_recv_takes_no_item() {
    let (tx, rx) = channel::<u32>(4);
    // The receive gives up (as in a `select!` with a timeout); its get is cancelled.
    assert!(tokio::time::timeout(SHORT, rx.recv()).await.is_err());
    within(tx.send(1)).await.unwrap();
    assert_eq!(
        within(rx.recv()).await,
        Ok(1),
        "the item was not taken by the abandoned get"
    );
}
