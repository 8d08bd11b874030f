//! A subscription served beside a periodic sweep: the holders of values for other processes
//! (`objects.rs`, `refs.rs`) answer their readers, and now and then free what no one will
//! read any more.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use async_nats::{Message, Subscriber};
use futures::StreamExt;

use super::Cluster;

/// Answers what `sub` brings with `answer`, and calls `sweep` every `every`, until `sub` ends
/// or the cluster goes.
pub(crate) async fn serve(
    cluster: Weak<Cluster>,
    mut sub: Subscriber,
    every: Duration,
    sweep: impl Fn(&Cluster),
    answer: impl AsyncFn(&Arc<Cluster>, Message),
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let message = tokio::select! {
            message = sub.next() => message,
            _ = ticks.tick() => {
                let Some(cluster) = cluster.upgrade() else { return };
                sweep(&cluster);
                continue;
            }
        };
        let Some(message) = message else { return };
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        answer(&cluster, message).await;
    }
}
