//! 8 senders x 8 receivers, 1 000 000 items through a channel of capacity 64, with receivers
//! randomly replaced by clones (fixed seeds): every item is received exactly once. Bounded.

use std::time::Duration;

use helio_channel::{ChannelError, channel};

const SENDERS: u64 = 8;
const RECEIVERS: u64 = 8;
const ITEMS: u64 = 1_000_000;
const BATCH: u64 = 32;
const BOUND: Duration = Duration::from_secs(300);

/// xorshift64*, seeded per task.
struct Rng(u64);

impl Rng {
    fn one_in(&mut self, n: u64) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).is_multiple_of(n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_items_each_received_exactly_once() {
    let (tx, rx) = channel::<u64>(64);
    let per_sender = ITEMS / SENDERS;
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let first = s * per_sender;
                for start in (first..first + per_sender).step_by(BATCH as usize) {
                    let end = (start + BATCH).min(first + per_sender);
                    tx.send_batch((start..end).collect()).await.expect("send");
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|r| {
            let mut rx = rx.clone();
            tokio::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (r + 1));
                let mut got = Vec::new();
                loop {
                    match rx.recv_batch(64).await {
                        Ok(items) => got.extend(items),
                        Err(ChannelError::Closed) => return got,
                        Err(other) => panic!("receive failed: {other}"),
                    }
                    if rng.one_in(50) {
                        // A new reader registers before the old one leaves: never zero readers.
                        rx = rx.clone();
                    }
                }
            })
        })
        .collect();
    drop(rx);
    let all = tokio::time::timeout(BOUND, async {
        for sender in senders {
            sender.await.expect("sender task");
        }
        let mut all = Vec::with_capacity(ITEMS as usize);
        for receiver in receivers {
            all.extend(receiver.await.expect("receiver task"));
        }
        all
    })
    .await
    .expect("the stress run finished within its bound");
    assert_eq!(
        all.len() as u64,
        ITEMS,
        "no item lost or duplicated in count"
    );
    let mut all = all;
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..ITEMS), "every item exactly once");
}
