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
async fn within<F: std::future::IntoFuture>(fut: F) -> F::Output {
    tokio::time::timeout(BOUND, fut)
        .await
        .expect("not done within the bound")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_recv() {
    let (tx, rx) = channel::<u32>(4);
    within(tx.send(1)).await.unwrap();
    within(tx.try_send(2)).await.unwrap();
    assert_eq!(within(rx.recv()).await, Ok(1));
    assert_eq!(within(rx.try_recv()).await, Ok(2));
    assert_eq!(within(rx.try_recv()).await, Err(ChannelError::Empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_and_timeouts() {
    let (tx, rx) = channel::<u32>(1);
    within(tx.try_send(1)).await.unwrap();
    assert_eq!(
        within(tx.try_send(2)).await,
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

/// Channel issue: `Sender` is a `Sink`, so a stream forwards into it, in order, and closing
/// the sink closes the channel for the receivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_forwards_into_a_sender() {
    let (tx, rx) = channel::<u32>(2);
    let items = futures::stream::iter((0..20).map(Ok::<u32, ChannelError>));
    let forward = tokio::spawn(items.forward(tx));
    let got: Vec<u32> = within(rx.collect::<Vec<u32>>()).await;
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    within(forward).await.unwrap().unwrap();
}

/// Channel issue: the blocking forms are for sync code.
#[test]
fn blocking_send_and_recv_from_sync_code() {
    let (tx, rx) = channel::<u32>(1);
    let producer = std::thread::spawn(move || {
        for i in 0..5 {
            tx.blocking_send(i).unwrap();
        }
    });
    let got: Vec<u32> = (0..5).map(|_| rx.blocking_recv().unwrap()).collect();
    producer.join().unwrap();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    assert_eq!(rx.blocking_recv(), Err(ChannelError::Closed));
}

/// An actor that is handed a sender by a method (not its constructor, which the actor keeps
/// for restarts) and lets go of it on request.
pub struct Producer {
    tx: std::sync::Mutex<Option<helio_channel::Sender<u32>>>,
}

#[actor(max_restarts = 1)]
impl Producer {
    pub fn new() -> Self {
        Producer {
            tx: std::sync::Mutex::new(None),
        }
    }

    #[remote_method]
    pub fn take_sender(&self, tx: helio_channel::Sender<u32>) {
        *self.tx.lock().unwrap() = Some(tx);
    }

    #[remote_method]
    pub async fn produce(&self, n: u32) {
        let tx = self.tx.lock().unwrap().clone();
        if let Some(tx) = tx {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        }
    }

    #[remote_method]
    pub fn drop_sender(&self) {
        self.tx.lock().unwrap().take();
    }
}

/// Channel issue: the channel closes when the last live sender goes, also when it was handed
/// to an actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_closes_when_the_last_live_sender_goes() {
    let (tx, rx) = channel::<u32>(4);
    let producer = Producer::new_actor().remote();
    within(producer.methods().take_sender().remote(tx))
        .await
        .unwrap();
    within(producer.methods().produce().remote(3))
        .await
        .unwrap();
    within(producer.methods().drop_sender().remote())
        .await
        .unwrap();
    let got: Vec<u32> = within(rx.collect::<Vec<u32>>()).await;
    assert_eq!(got, vec![0, 1, 2]);
}

/// In the actor's process, a receiver waits on the channel's state itself, not in a call: a
/// kill for good must still reach it, with the error a call would have given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_waiting_in_process_learns_of_a_kill_for_good() {
    let (tx, rx) = channel::<u32>(4);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(async move {
        let recv = rx.recv();
        let _ = ready_tx.send(());
        recv.await
    });
    within(ready_rx).await.unwrap();
    // Whether the receive is waiting yet or not, it ends with the kill's error.
    helio::kill(tx.actor(), true);
    assert!(matches!(
        within(waiting).await.unwrap(),
        Err(ChannelError::Actor(ActorError::ActorDied {
            cause: DeathCause::Killed,
            ..
        }))
    ));
    assert!(matches!(
        within(tx.send(1)).await,
        Err(ChannelError::Actor(ActorError::ActorDied { .. }))
    ));
}

/// A crash (`kill(&a, false)`) restarts the actor; in-process senders and receivers keep
/// using the same state, and a receive waiting through the restart gets the next item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_handles_carry_on_through_a_restart() {
    let (tx, rx) = channel::<u32>(4);
    within(tx.send(1)).await.unwrap();
    helio::kill(tx.actor(), false);
    within(tx.actor().ready()).await.unwrap();
    assert_eq!(tx.actor().restarts(), 1);
    assert_eq!(within(rx.recv()).await, Ok(1));
    let waiting = tokio::spawn(async move { rx.recv().await });
    helio::kill(tx.actor(), false);
    within(tx.send(2)).await.unwrap();
    assert_eq!(within(waiting).await.unwrap(), Ok(2));
}

/// A clone registers at once, so dropping the original right after it leaves the channel
/// open; dropping the last receiver closes it for the very next send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_take_effect_at_once() {
    let (tx, rx) = channel::<u32>(4);
    for _ in 0..100 {
        let clone = rx.clone();
        drop(clone);
    }
    let rx2 = rx.clone();
    drop(rx);
    within(tx.send(1)).await.unwrap();
    assert_eq!(within(rx2.recv()).await, Ok(1));
    drop(rx2);
    assert_eq!(within(tx.send(2)).await, Err(ChannelError::Closed));
}
