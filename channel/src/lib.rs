//! A distributed-ready MPMC channel whose buffer lives in one helio actor.
//!
//! This crate is a placeholder: the channel actor (`RayChannelActor<T>`) and its
//! `Sender`/`Receiver` layer arrive with the channel issue.
