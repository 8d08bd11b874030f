//! The runtime's seam, answered: what the runtime asks of cluster mode (`seam::Cluster`).
//!
//! Installed when this process joins a cluster and removed when it leaves. Each question
//! names an actor type as a `Class`; what depends on the type goes through the type's
//! registration (`types.rs`), whose functions were made for that type by `register::<A>()`.

use std::any::Any;

use helio_runtime::seam::{Borrow, Claim, Claimed, Class, Export, NOT_IN_A_CLUSTER};

use crate::{
    ActorInfo, ActorOptions, DeathCause, LookupError, Placement, client, current, handles,
    placement, registry::ActorRecord, types, wire,
};

/// Cluster mode, as the runtime sees it: each answer reads the cluster this process is in.
pub(crate) struct Hooks;

impl helio_runtime::seam::Cluster for Hooks {
    fn place(
        &self,
        class: Class,
        options: ActorOptions,
        placement: Placement,
        args: Box<dyn Any + Send>,
    ) -> Result<Box<dyn Any + Send>, DeathCause> {
        placement::place(class, options, placement, args)
    }

    fn claim(&self, claim: Claim<'_>) -> Claimed {
        match types::by_class(claim.class) {
            Some(entry) => (entry.claim)(claim),
            None => Claimed::Local,
        }
    }

    fn lookup(
        &self,
        class: Class,
        namespace: &str,
        name: &str,
    ) -> Result<Box<dyn Any + Send>, LookupError> {
        match current() {
            Some(cluster) => client::lookup(&cluster, class, namespace, name),
            None => Err(LookupError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
        }
    }

    fn list(&self, dead: bool) -> Vec<ActorInfo> {
        crate::list_remote(dead).unwrap_or_default()
    }

    fn address(&self, class: Class, actor: &dyn Any) -> Result<Vec<u8>, String> {
        let cluster = current().ok_or(NOT_IN_A_CLUSTER)?;
        let entry =
            types::by_class(class).ok_or_else(|| handles::not_registered(class.type_name))?;
        let record = (entry.address)(&cluster, actor)?;
        wire::encode(&record).map_err(|err| err.to_string())
    }

    fn attach(&self, class: Class, address: &[u8]) -> Result<Box<dyn Any + Send>, String> {
        let cluster = current().ok_or(NOT_IN_A_CLUSTER)?;
        let record: ActorRecord =
            wire::decode(address).map_err(|err| format!("not an actor's address: {err}"))?;
        handles::attach(&cluster, class, record)
    }

    fn export_ref(&self, export: Export) -> Result<Vec<u8>, String> {
        let cluster = current().ok_or(crate::seam::REF_NOT_IN_A_CLUSTER)?;
        super::refs::export(&cluster, export)
    }

    fn resources(
        &self,
    ) -> (
        std::collections::BTreeMap<String, f64>,
        std::collections::BTreeMap<String, f64>,
    ) {
        let (mut total, mut free) = (
            std::collections::BTreeMap::new(),
            std::collections::BTreeMap::new(),
        );
        let alive = crate::nodes()
            .into_iter()
            .filter(|node| node.state == crate::NodeState::Alive);
        for node in alive {
            for resource in node.resources {
                *total.entry(resource.name.clone()).or_insert(0.0) += resource.total;
                *free.entry(resource.name).or_insert(0.0) +=
                    (resource.total - resource.used).max(0.0);
            }
        }
        (total, free)
    }

    fn reserve_group(
        &self,
        request: crate::seam::ReserveGroup,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<Vec<crate::NodeId>, crate::seam::Unreserved>>
                + Send,
        >,
    > {
        Box::pin(crate::bundles::reserve(request))
    }

    fn release_group(&self, group: crate::seam::PlacementGroupId, nodes: Vec<crate::NodeId>) {
        if let Some(cluster) = current() {
            crate::bundles::removed(&cluster, group, nodes);
        }
    }

    fn buffer(&self, len: usize) -> Vec<u8> {
        let spare = current().map(|cluster| cluster.spare.take(len));
        match spare {
            Some(Ok(buffer)) => buffer,
            _ => Vec::with_capacity(len),
        }
    }

    fn import_ref(&self, address: &[u8]) -> Result<Borrow, String> {
        let cluster = current().ok_or(crate::seam::REF_NOT_IN_A_CLUSTER)?;
        match wire::decode::<super::refs::Where>(address) {
            Ok(super::refs::Where::Owner(address)) => super::refs::import(&cluster, address),
            Ok(super::refs::Where::Store(name)) => super::durable::borrow(&cluster, name),
            Err(err) => Err(format!("not the address of a value: {err}")),
        }
    }
}
