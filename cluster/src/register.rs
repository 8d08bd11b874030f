//! `helio::register::<A>()`: lets this process host and call actors of type `A` across
//! processes.
//!
//! Every process that hosts an actor type, or calls one hosted elsewhere, registers it: the
//! registration is where the serde bounds of its arguments and results are checked, and it
//! records (`types.rs`) how to serve and call each remote method without them, with the
//! functions that create (`placement.rs`), claim (`claim.rs`) and address (`handles.rs`) its
//! actors, made for `A` here.

use std::{collections::HashMap, sync::Arc};

use super::{
    claim, handles, placement,
    types::{self, HostTable, TypeEntry},
};
use crate::{
    MsgPack,
    seam::{self, Remotable},
};

/// Lets this process host actors of type `A` and call those hosted elsewhere (cluster mode).
///
/// Register each actor type that crosses processes, in every process that creates, hosts or
/// calls it; for a generic actor, each instantiation (`register::<Chan<i64>>()`). Registering
/// twice is harmless. It compiles only when the constructor's arguments and every remote
/// method's arguments and result are `serde::Serialize + serde::de::DeserializeOwned`; the
/// error names the type that is not.
///
/// Named actors of a registered type created in this process are published to the cluster,
/// so [`get_actor`](helio_runtime::get_actor) finds them from any process.
///
/// ```
/// use helio::prelude::*;
///
/// pub struct Counter { value: i64 }
///
/// #[actor]
/// impl Counter {
///     pub fn new(start: i64) -> Self { Counter { value: start } }
///
///     #[remote_method]
///     pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
/// }
///
/// helio_cluster::register::<Counter>();
/// ```
pub fn register<A: Remotable<MsgPack>>() {
    let type_name = std::any::type_name::<A>();
    let fingerprint = types::fingerprint(type_name, A::SIGNATURE);
    let mut stubs = HashMap::new();
    let mut methods = HashMap::new();
    for method in A::remote_methods() {
        stubs.insert(method.name, method.stub);
        methods.insert(method.name, method.serve);
    }
    let entry = TypeEntry {
        type_name,
        fingerprint,
        stubs: Arc::new(stubs),
        host: Arc::new(HostTable::<A> {
            fingerprint,
            fingerprint_hex: format!("{fingerprint:016x}"),
            methods,
        }),
        encode_constructor: A::encode_constructor_args,
        spawn: placement::spawn_here::<A>,
        remote: seam::remote_handle::<A>,
        claim: claim::claim_named::<A>,
        address: handles::address::<A>,
        local: handles::local::<A>,
    };
    // A node that joined already serves it from now on: its next load lists the type, so
    // `Placement::Any` may choose it (`schedule.rs`).
    types::insert::<A>(entry);
}
