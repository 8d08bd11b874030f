//! `ActorBuilder`: `A::new_actor().options(..).remote(ctor args)`.

use std::{any::Any, fmt, sync::Arc};

use futures::future::BoxFuture;

use crate::{
    Actor, ActorClass, ActorOptions,
    actor::{ActorCell, ActorShared},
    driver::Driver,
    error::DeathCause,
    label::{ActorId, ActorLabel},
    lifecycle,
    mailbox::Mailbox,
    options::Lifetime,
    registry,
    seam::hooks as seam,
    state::ActorState,
    system,
};

/// Runs an actor's constructor on the given arguments.
pub(crate) type Construct<A, Args> = fn(Args) -> BoxFuture<'static, Result<A, String>>;
type Spawn<A, Args> = fn(ActorOptions, Construct<A, Args>, Args) -> Actor<A>;

/// Creates an actor: returned by the generated `A::new_actor()`.
///
/// `.remote(..)` takes the constructor's arguments, starts the actor and returns its handle at
/// once; the constructor runs on the actor. Its arguments are kept so a restart can run it again.
#[must_use = "an ActorBuilder does nothing until `.remote(..)` is called"]
pub struct ActorBuilder<A, Args> {
    options: ActorOptions,
    construct: Construct<A, Args>,
    spawn: Spawn<A, Args>,
}

/// What a constructor's arguments must be: they are kept to run the constructor again on restart.
#[diagnostic::on_unimplemented(
    message = "the arguments of an actor constructor must be `Clone + Send + 'static`, but `{Self}` is not",
    label = "these arguments cannot be kept by the actor",
    note = "the actor keeps its constructor's arguments to run it again when it restarts"
)]
#[doc(hidden)]
pub trait ConstructorArgs: Clone + Send + 'static {}
impl<T: Clone + Send + 'static> ConstructorArgs for T {}

impl<A: ActorClass, Args: ConstructorArgs> ActorBuilder<A, Args> {
    #[doc(hidden)]
    pub fn new(construct: Construct<A, Args>) -> Self {
        ActorBuilder {
            options: A::default_options(),
            construct,
            spawn: spawn::<A, Args>,
        }
    }
}

impl<A, Args> ActorBuilder<A, Args> {
    /// Overrides the actor's `#[actor(..)]` options with those `options` sets.
    pub fn options(mut self, options: ActorOptions) -> Self {
        self.options = self.options.overridden_by(options);
        self
    }

    fn start(self, args: Args) -> Actor<A> {
        (self.spawn)(self.options, self.construct, args)
    }

    /// Starts the actor with its arguments as a tuple (for actors created from the wire).
    #[doc(hidden)]
    pub fn remote_tuple(self, args: Args) -> Actor<A> {
        self.start(args)
    }
}

impl<A, Args> ActorBuilder<A, Args> {
    /// A mistake to call: the compiler says to start the actor with `.remote(..)` first.
    #[doc(hidden)]
    pub fn methods(&self)
    where
        Self: crate::hints::CallRemoteToStartTheActor,
    {
    }
}

impl<A, Args> Clone for ActorBuilder<A, Args> {
    fn clone(&self) -> Self {
        ActorBuilder {
            options: self.options.clone(),
            construct: self.construct,
            spawn: self.spawn,
        }
    }
}

impl<A, Args> fmt::Debug for ActorBuilder<A, Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorBuilder")
            .field("actor", &std::any::type_name::<A>())
            .field("options", &self.options)
            .finish()
    }
}

macro_rules! builder_arities {
    ($( ($($arg:ident: $ty:ident),*) )*) => {$(
        impl<A, $($ty),*> ActorBuilder<A, ($($ty,)*)> {
            /// Starts the actor with these constructor arguments and returns its handle.
            #[allow(clippy::too_many_arguments)]
            pub fn remote(self, $($arg: $ty),*) -> Actor<A> {
                self.start(($($arg,)*))
            }
        }
    )*};
}

crate::for_each_arity!(builder_arities);

/// Creates an `A` on the node `placement` picks (cluster mode), and returns its handle.
fn place<A: ActorClass>(
    options: ActorOptions,
    placement: crate::Placement,
    args: Box<dyn Any + Send>,
) -> Result<Actor<A>, DeathCause> {
    let cluster = seam::cluster().ok_or_else(|| {
        DeathCause::InvalidOptions(
            "a placement other than `Local` needs cluster mode \
             (`helio::init(helio::Config::cluster(url))`)"
                .to_owned(),
        )
    })?;
    let actor = cluster.place(seam::Class::of::<A>(), options, placement, args)?;
    seam::unbox(actor).map_err(DeathCause::InitFailed)
}

/// Starts an actor: registers its name, then spawns its dispatcher.
fn spawn<A: ActorClass, Args: ConstructorArgs>(
    mut options: ActorOptions,
    construct: Construct<A, Args>,
    args: Args,
) -> Actor<A> {
    let type_name = std::any::type_name::<A>();
    let original = options.clone();
    // An actor of a placement group goes where its bundle is, once the group is reserved.
    let mut placement = options.take_placement();
    if let Some(in_group) = options.in_group() {
        placement = match in_group.home_within(options.resource_wait()) {
            Ok(home) => home.map(crate::Placement::Node),
            Err(message) => {
                return dead_actor(
                    ActorLabel::new(type_name, None),
                    DeathCause::Unschedulable(message),
                );
            }
        };
    }
    if let Some(placement) = placement {
        return match place::<A>(options, placement, Box::new(args)) {
            Ok(actor) => actor,
            Err(cause) => dead_actor(ActorLabel::new(type_name, None), cause),
        };
    }
    let config = match options.resolve() {
        Ok(config) => config,
        Err(message) => {
            return dead_actor(
                ActorLabel::new(type_name, None),
                DeathCause::InvalidOptions(message),
            );
        }
    };
    let label = ActorLabel::new(
        type_name,
        config
            .name
            .as_ref()
            .map(|(ns, n)| (ns.as_str(), n.as_str())),
    );
    // What it holds from this node while it lives: a demand that can never fit here fails now.
    let pool = system::task_pool();
    if config.in_group.is_none()
        && let Some(shortfall) = pool.never_fits(&config.demand)
    {
        return dead_actor(label, DeathCause::Unschedulable(format!("it {shortfall}")));
    }
    crate::unwind::install_panic_hook();
    let handle = match crate::embedded::spawn_handle() {
        Ok(handle) => handle,
        Err(err) => {
            tracing::error!(%err, "cannot start the helio runtime");
            return dead_actor(label, DeathCause::Shutdown);
        }
    };
    let mut id = ActorId::next();
    // Cluster mode: a named actor of a registered type claims its name cluster-wide first. A
    // detached one leaves what it takes to start it again elsewhere if its node dies.
    let cluster = config.name.as_ref().and_then(|_| seam::cluster());
    let hosted = match (&config.name, cluster) {
        (Some(key), Some(cluster)) => {
            let mut original = Some(original);
            let mut revival = || {
                (
                    original.take().unwrap_or_default(),
                    Box::new(args.clone()) as Box<dyn Any + Send>,
                )
            };
            let claimed = cluster.claim(seam::Claim {
                class: seam::Class::of::<A>(),
                key,
                id,
                detached: config.lifetime == Lifetime::Detached,
                get_if_exists: config.get_if_exists,
                max_pending_calls: config.max_pending_calls,
                max_task_retries: config.max_task_retries,
                revival: &mut revival,
            });
            match claimed {
                seam::Claimed::Local => None,
                seam::Claimed::Serve(hosted) => {
                    id = hosted.id();
                    Some(hosted)
                }
                seam::Claimed::Existing(actor) => {
                    return seam::unbox::<A>(actor).unwrap_or_else(|message| {
                        dead_actor(label, DeathCause::InitFailed(message))
                    });
                }
                seam::Claimed::Refused(cause) => return dead_actor(label, cause),
            }
        }
        _ => None,
    };
    let holding = crate::resource_pool::ActorHolding::new(
        pool,
        config.in_group,
        config.demand.clone(),
        config.resource_timeout,
    );
    let start = |config: crate::options::ActorConfig| {
        let mailbox = Arc::new(Mailbox::new());
        let declared = config.groups.iter().skip(1).map(|(name, _)| name.clone());
        let shared = Arc::new(ActorShared::new(
            id,
            label.clone(),
            config.max_pending_calls,
            config.max_task_retries,
            declared.collect(),
            ActorState::Pending,
        ));
        if let Some(in_group) = &config.in_group {
            in_group.enlist(&shared);
        }
        // Restarted here after its node died: the constructor may ask
        // (`was_current_actor_reconstructed`), so the count is set before it runs.
        if let Some(hosted) = &hosted {
            shared.set_restarts(hosted.moves());
        }
        let held = holding.clone();
        let construct = Box::new(move || {
            let args = args.clone();
            let holding = holding.clone();
            Box::pin(async move {
                if let Some(holding) = holding {
                    holding.hold().await?;
                }
                construct(args).await
            }) as BoxFuture<'static, Result<A, String>>
        });
        let cell = Arc::new(ActorCell {
            mailbox: Arc::clone(&mailbox),
            shared: Arc::clone(&shared),
        });
        let demand = config.demand.clone();
        let driver = Driver::new(Arc::clone(&shared), config, construct, mailbox);
        handle.spawn(lifecycle::scope_current(
            Arc::downgrade(&cell),
            shared,
            demand,
            held,
            driver,
        ));
        if let Some(hosted) = hosted {
            hosted.serve(&cell);
        }
        cell
    };
    let Some(key) = config.name.clone() else {
        return Actor::from_cell(start(config));
    };
    let detached = config.lifetime == Lifetime::Detached;
    let get_if_exists = config.get_if_exists;
    let claimed = registry::global().claim(key.clone(), get_if_exists, detached, || start(config));
    match claimed {
        Ok(actor) => actor,
        Err(()) => dead_actor(
            label,
            DeathCause::NameTaken {
                namespace: key.0,
                name: key.1,
            },
        ),
    }
}

/// A handle whose every call resolves to `ActorDied { cause }`.
pub(crate) fn dead_actor<A: ActorClass>(label: ActorLabel, cause: DeathCause) -> Actor<A> {
    tracing::warn!(actor = %label, %cause, "actor not started");
    let mailbox = Arc::new(Mailbox::new());
    drop(mailbox.close());
    let shared = ActorShared::new(
        ActorId::next(),
        label,
        None,
        0,
        Box::default(),
        ActorState::Dead(cause),
    );
    Actor::from_cell(Arc::new(ActorCell {
        mailbox,
        shared: Arc::new(shared),
    }))
}
