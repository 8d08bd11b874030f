//! The `#[actor]` impl block as the back end sees it: constructor, remote methods, and every
//! rule they must follow, each broken rule an error at the offending tokens.
//!
//! The modules:
//! - `actor_impl`: the impl block as a whole: which fn is the constructor, which are remote
//!   methods and which the `#[on_stop]` hook, and the rules between them;
//! - `constructor`, `remote_method`, `on_stop`: the rules of each kind of fn;
//! - `signature`: the rules every fn a handle calls follows (also `#[remote]` fns'), and what
//!   the generated code needs of its signature (parameter names, a stream's item type);
//! - `owned`: owned argument and result types (no borrows, no `impl Trait`), with `Self` spelt
//!   out.

mod actor_impl;
mod constructor;
mod on_stop;
mod owned;
mod remote_method;
mod signature;

pub(crate) use actor_impl::ActorImpl;
pub(crate) use constructor::Constructor;
pub(crate) use owned::{owned_output, owned_params};
pub(crate) use remote_method::{Receiver, RemoteMethod};
pub(crate) use signature::{check_plain_fn, param_names, stream_item};
