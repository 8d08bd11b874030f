//! [`ActorPool`]: work spread over a fixed set of actors, one piece per actor at a time, with
//! the results in submission order or as they come (Ray's and sunray's `ActorPool`).

use std::{
    collections::VecDeque,
    future::{IntoFuture, poll_fn},
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::Stream;

use crate::{
    Actor, ActorClass, ActorError, ActorLabel, ObjectRef, ObjectRefFuture, blocking::block_until,
};

/// A piece of work: what to call on an actor. Kept until its result is handed out, so that
/// it can go to another actor when its own dies.
type Work<A, R> = Box<dyn FnMut(&Actor<A>) -> ObjectRef<R> + Send>;

/// A piece of work sent to an actor, waiting for its result.
struct Running<A, R> {
    seq: u64,
    actor: Actor<A>,
    result: ObjectRefFuture<R>,
    work: Work<A, R>,
}

/// A piece of work waiting for an idle actor.
struct Waiting<A, R> {
    seq: u64,
    work: Work<A, R>,
}

/// A pool of actors of type `A` that work is spread over, one piece per actor at a time;
/// each piece gives an `R`. Ray's `ray.util.ActorPool`, typed as sunray's `ActorPool[T]`.
///
/// [`submit`](ActorPool::submit) sends a piece of work to an idle actor, or keeps it until
/// one is free. [`get_next`](ActorPool::get_next) hands out the results in submission order,
/// [`get_next_unordered`](ActorPool::get_next_unordered) as they come; each result frees its
/// actor for the next piece. [`map`](ActorPool::map) and
/// [`map_unordered`](ActorPool::map_unordered) do both over many values, as iterators;
/// [`map_stream`](ActorPool::map_stream) and
/// [`map_unordered_stream`](ActorPool::map_unordered_stream) as streams, for async code.
///
/// **An actor that dies** (its call fails with [`ActorError::ActorDied`]) leaves the pool,
/// and its piece of work goes to another actor, so the result still comes. Ray's pool does
/// not: there the error is the result, and the dead actor stays in the pool. Only when no
/// actor is left does the piece fail, with the death. Any other error (a panic in the
/// method, say) is the piece's result.
///
/// Handles to actors in other processes work the same: the pool only calls them.
///
/// ```
/// use helio::prelude::*;
/// use helio::util::ActorPool;
///
/// pub struct Doubler;
///
/// #[actor]
/// impl Doubler {
///     pub fn new() -> Self {
///         Doubler
///     }
///
///     #[remote_method]
///     pub fn double(&self, x: u64) -> u64 {
///         2 * x
///     }
/// }
///
/// let actors = [Doubler::new_actor().remote(), Doubler::new_actor().remote()];
/// let mut pool = ActorPool::new(actors);
/// let doubled: Result<Vec<u64>, _> = pool
///     .map(|a, v| a.methods().double().remote(v), [1, 2, 3, 4])
///     .collect();
/// assert_eq!(doubled.unwrap(), [2, 4, 6, 8]);
/// ```
pub struct ActorPool<A, R> {
    idle: VecDeque<Actor<A>>,
    /// Sent, in submission order.
    running: VecDeque<Running<A, R>>,
    /// Not sent yet (no idle actor), in submission order.
    waiting: VecDeque<Waiting<A, R>>,
    /// Results kept while an older piece waits for an actor, in submission order.
    finished: VecDeque<(u64, Result<R, ActorError>)>,
    next_seq: u64,
}

impl<A: ActorClass, R: Send + 'static> ActorPool<A, R> {
    /// A pool of `actors`, all idle.
    pub fn new(actors: impl IntoIterator<Item = Actor<A>>) -> Self {
        ActorPool {
            idle: actors.into_iter().collect(),
            running: VecDeque::new(),
            waiting: VecDeque::new(),
            finished: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// Sends `f(actor, value)` to an idle actor, or keeps it until one is free.
    ///
    /// `f` starts the call and returns its ref; `value` is cloned should the piece have to
    /// go to another actor (its own died).
    ///
    /// ```
    /// # use helio::prelude::*;
    /// # pub struct Doubler;
    /// # #[actor]
    /// # impl Doubler {
    /// #     pub fn new() -> Self { Doubler }
    /// #     #[remote_method]
    /// #     pub fn double(&self, x: u64) -> u64 { 2 * x }
    /// # }
    /// let mut pool = helio::util::ActorPool::new([Doubler::new_actor().remote()]);
    /// pool.submit(|a, v| a.methods().double().remote(v), 1);
    /// pool.submit(|a, v| a.methods().double().remote(v), 2);
    /// assert_eq!(pool.get_next(), Some(Ok(2)));
    /// assert_eq!(pool.get_next(), Some(Ok(4)));
    /// assert!(!pool.has_next());
    /// ```
    pub fn submit<V, F>(&mut self, f: F, value: V)
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Send + 'static,
        V: Clone + Send + 'static,
    {
        let seq = self.next_seq;
        self.next_seq += 1;
        let work: Work<A, R> = Box::new(move |actor| f(actor, value.clone()));
        self.waiting.push_back(Waiting { seq, work });
        self.dispatch();
    }

    /// Whether any result is still to come: work sent or waiting.
    pub fn has_next(&self) -> bool {
        !self.running.is_empty() || !self.waiting.is_empty() || !self.finished.is_empty()
    }

    /// The next result in submission order, waiting for it; `None` when none is to come.
    pub fn get_next(&mut self) -> Option<Result<R, ActorError>> {
        self.next_blocking(None, Order::Submitted)
    }

    /// As [`get_next`](ActorPool::get_next), waiting at most `timeout`: then
    /// `Some(Err(ActorError::GetTimeout))`, and the result stays in the pool.
    pub fn get_next_timeout(&mut self, timeout: Duration) -> Option<Result<R, ActorError>> {
        self.next_blocking(Some(timeout), Order::Submitted)
    }

    /// The first result to come, whatever its submission order, waiting for it; `None` when
    /// none is to come.
    pub fn get_next_unordered(&mut self) -> Option<Result<R, ActorError>> {
        self.next_blocking(None, Order::Ready)
    }

    /// As [`get_next_unordered`](ActorPool::get_next_unordered), waiting at most `timeout`:
    /// then `Some(Err(ActorError::GetTimeout))`, and every result stays in the pool.
    pub fn get_next_unordered_timeout(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<R, ActorError>> {
        self.next_blocking(Some(timeout), Order::Ready)
    }

    /// The next result in submission order, for async code; `None` when none is to come.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future leaves every result in the pool.
    pub async fn next(&mut self) -> Option<Result<R, ActorError>> {
        poll_fn(|cx| self.poll_next(cx, Order::Submitted)).await
    }

    /// The first result to come, for async code; `None` when none is to come.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future leaves every result in the pool.
    pub async fn next_unordered(&mut self) -> Option<Result<R, ActorError>> {
        poll_fn(|cx| self.poll_next(cx, Order::Ready)).await
    }

    /// Runs `f(actor, value)` for each of `values` over the pool, and yields the results in
    /// the order of `values`.
    ///
    /// As in Ray, work submitted before and not handed out yet is waited for first, and its
    /// results dropped; the values are all submitted at once (each waits for an idle actor).
    pub fn map<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Iterator<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.map_with(f, values, Order::Submitted)
    }

    /// As [`map`](ActorPool::map), yielding the results as they come.
    pub fn map_unordered<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Iterator<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.map_with(f, values, Order::Ready)
    }

    /// As [`map`](ActorPool::map), as a stream for async code.
    ///
    /// ```
    /// # use helio::prelude::*;
    /// # pub struct Doubler;
    /// # #[actor]
    /// # impl Doubler {
    /// #     pub fn new() -> Self { Doubler }
    /// #     #[remote_method]
    /// #     pub fn double(&self, x: u64) -> u64 { 2 * x }
    /// # }
    /// use helio::stream::StreamExt;
    ///
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let mut pool = helio::util::ActorPool::new([Doubler::new_actor().remote()]);
    /// let doubled: Vec<_> = pool
    ///     .map_stream(|a, v| a.methods().double().remote(v), 1..=3)
    ///     .collect()
    ///     .await;
    /// assert_eq!(doubled, [Ok(2), Ok(4), Ok(6)]);
    /// # });
    /// ```
    pub fn map_stream<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Stream<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.stream_with(f, values, Order::Submitted)
    }

    /// As [`map_unordered`](ActorPool::map_unordered), as a stream for async code.
    pub fn map_unordered_stream<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Stream<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.stream_with(f, values, Order::Ready)
    }

    /// Takes an idle actor out of the pool, if there is one.
    pub fn pop_idle(&mut self) -> Option<Actor<A>> {
        self.idle.pop_front()
    }

    /// Adds `actor` to the pool, idle (it takes the first waiting piece of work at once).
    pub fn push(&mut self, actor: Actor<A>) {
        self.idle.push_back(actor);
        self.dispatch();
    }

    /// Sends waiting work to idle actors, in submission order.
    fn dispatch(&mut self) {
        while !self.idle.is_empty()
            && let Some(Waiting { seq, mut work }) = self.waiting.pop_front()
        {
            let Some(actor) = self.idle.pop_front() else {
                self.waiting.push_front(Waiting { seq, work });
                return;
            };
            let result = work(&actor).into_future();
            // Work sent again (its actor died) is older than some already running.
            let at = self.running.partition_point(|running| running.seq < seq);
            self.running.insert(
                at,
                Running {
                    seq,
                    actor,
                    result,
                    work,
                },
            );
        }
    }

    fn map_with<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
        order: Order,
    ) -> impl Iterator<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        while self.next_blocking(None, Order::Ready).is_some() {}
        for value in values {
            self.submit(f.clone(), value);
        }
        std::iter::from_fn(move || self.next_blocking(None, order))
    }

    fn stream_with<V, F>(
        &mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
        order: Order,
    ) -> impl Stream<Item = Result<R, ActorError>> + '_
    where
        F: Fn(&Actor<A>, V) -> ObjectRef<R> + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let values: Vec<V> = values.into_iter().collect();
        let mut values = Some(values);
        futures::stream::poll_fn(move |cx| {
            // Earlier work first (its results dropped), then this map's values.
            if let Some(pending) = values.take() {
                while let Poll::Ready(Some(_)) = self.poll_next(cx, Order::Ready) {}
                if self.has_next() {
                    values = Some(pending);
                    return Poll::Pending;
                }
                for value in pending {
                    self.submit(f.clone(), value);
                }
            }
            self.poll_next(cx, order)
        })
    }

    /// Waits, blocking the thread, for the next result in `order`, at most `timeout`.
    fn next_blocking(
        &mut self,
        timeout: Option<Duration>,
        order: Order,
    ) -> Option<Result<R, ActorError>> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        match block_until(deadline, |cx| self.poll_next(cx, order)) {
            Some(next) => next,
            None => Some(Err(ActorError::GetTimeout {
                timeout: timeout.unwrap_or_default(),
            })),
        }
    }

    /// Polls for the next result in `order`: the oldest piece of work's, or any ready one's.
    /// A piece whose actor died goes to another actor; a ready result frees its actor.
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        order: Order,
    ) -> Poll<Option<Result<R, ActorError>>> {
        loop {
            let oldest = [
                self.running.front().map(|r| r.seq),
                self.waiting.front().map(|w| w.seq),
                self.finished.front().map(|(seq, _)| *seq),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(oldest) = oldest else {
                return Poll::Ready(None);
            };
            // A result kept while an older piece waited for an actor.
            let kept = self.finished.front().map(|(seq, _)| *seq);
            if matches!(order, Order::Ready) && kept.is_some() || kept == Some(oldest) {
                return Poll::Ready(self.finished.pop_front().map(|(_, result)| result));
            }
            if self.running.is_empty() {
                // Work waits, and no actor is idle or busy: none is left to do it.
                return match self.waiting.pop_front() {
                    Some(_) => Poll::Ready(Some(Err(self.no_actor_left()))),
                    None => Poll::Ready(None),
                };
            }
            // In submission order, only the oldest piece's result is handed out; while it
            // waits for an actor, any other result frees one, and is kept.
            let only_oldest = matches!(order, Order::Submitted)
                && self.running.front().map(|r| r.seq) == Some(oldest);
            let ready = self
                .running
                .iter_mut()
                .take(if only_oldest { 1 } else { usize::MAX })
                .enumerate()
                .find_map(
                    |(at, running)| match Pin::new(&mut running.result).poll(cx) {
                        Poll::Ready(result) => Some((at, result)),
                        Poll::Pending => None,
                    },
                );
            let Some((at, result)) = ready else {
                return Poll::Pending;
            };
            let Some(Running {
                seq, actor, work, ..
            }) = self.running.remove(at)
            else {
                return Poll::Pending;
            };
            match result {
                // Its actor is gone: the same piece goes to the next idle actor, unless
                // none is left.
                Err(err @ ActorError::ActorDied { .. }) => {
                    drop(actor);
                    if self.idle.is_empty() && self.running.is_empty() {
                        return Poll::Ready(Some(Err(err)));
                    }
                    self.waiting.push_front(Waiting { seq, work });
                    self.dispatch();
                }
                result => {
                    self.idle.push_back(actor);
                    self.dispatch();
                    if matches!(order, Order::Ready) || seq == oldest {
                        return Poll::Ready(Some(result));
                    }
                    let at = self.finished.partition_point(|(kept, _)| *kept < seq);
                    self.finished.insert(at, (seq, result));
                }
            }
        }
    }

    /// The error of a piece of work that no actor is left to do.
    fn no_actor_left(&self) -> ActorError {
        ActorError::ActorUnavailable {
            actor: ActorLabel::new(std::any::type_name::<A>(), None),
            method: "ActorPool",
            message: "no actor is left in the pool (each died, or was popped): push one".to_owned(),
        }
    }
}

/// Which result comes next.
#[derive(Clone, Copy)]
enum Order {
    /// The oldest piece of work's.
    Submitted,
    /// Whichever is ready first.
    Ready,
}
