//! `ObjectRef<(A, B, ..)>::unpack()`: one ref per element, like sunray's `unpack=True`.

use std::future::IntoFuture;

use futures::FutureExt;

use crate::{ObjectRef, object_ref::pair_like};

macro_rules! unpack_arities {
    ($( ($($t:ident $r:ident $d:ident $v:ident),+) )*) => {$(
        impl<$($t: Send + 'static),+> ObjectRef<($($t,)+)> {
            /// One ref per element of the tuple, each resolving to its element, or to the
            /// tuple's error (every element gets it).
            ///
            /// An already-resolved tuple is split at once; otherwise a small task on helio's
            /// runtime waits for it. Cancelling an element does not cancel the call.
            #[allow(non_snake_case)]
            pub fn unpack(self) -> ($(ObjectRef<$t>,)+) {
                $( let ($r, $d) = pair_like::<$t, _>(&self); )+
                let split = move |result: Result<($($t,)+), crate::ActorError>| match result {
                    Ok(($($v,)+)) => { $( $d.complete(Ok($v)); )+ }
                    Err(err) => { $( $d.complete(Err(err.clone())); )+ }
                };
                let mut pending = self.into_future();
                match (&mut pending).now_or_never() {
                    Some(result) => split(result),
                    None => {
                        if let Ok(handle) = crate::embedded::spawn_handle() {
                            handle.spawn(async move { split(pending.await) });
                        }
                    }
                }
                // Without a runtime the completers drop, resolving to `ActorDied(Shutdown)`.
                ($($r,)+)
            }
        }
    )*};
}

unpack_arities! {
    (A ra da va, B rb db vb)
    (A ra da va, B rb db vb, C rc dc vc)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve, F rf df vf)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve, F rf df vf, G rg dg vg)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve, F rf df vf, G rg dg vg, H rh dh vh)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve, F rf df vf, G rg dg vg, H rh dh vh, I ri di vi)
    (A ra da va, B rb db vb, C rc dc vc, D rd dd vd, E re de ve, F rf df vf, G rg dg vg, H rh dh vh, I ri di vi, J rj dj vj)
}
