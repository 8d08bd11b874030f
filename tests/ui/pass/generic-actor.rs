// A generic actor `Store<T>` gets a typed handle whose methods use `T`.
use helio::prelude::*;

pub struct Store<T> {
    items: Vec<T>,
}

#[actor]
impl<T: Send + Sync + Clone + 'static> Store<T> {
    pub fn new() -> Self {
        Store { items: Vec::new() }
    }

    #[remote_method]
    pub fn push(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }

    #[remote_method]
    pub fn last(&self) -> Option<T> {
        self.items.last().cloned()
    }

    #[remote_method]
    pub async fn first(&self) -> Option<T> {
        self.items.first().cloned()
    }
}

#[allow(dead_code)]
fn usage() {
    let store: Actor<Store<String>> = Store::new_actor().remote();
    let _len: ObjectRef<usize> = store.methods().push().remote("a".to_string());
    let _last: ObjectRef<Option<String>> = store.methods().last().remote();
    let _first: ObjectRef<Option<String>> = store.methods().first().remote();
}

fn main() {}

/// The bound of the example: `Send + 'static` suffices for sync methods.
pub struct Slot<T> {
    value: Option<T>,
}

#[actor]
impl<T: Send + 'static> Slot<T> {
    pub fn new() -> Self {
        Slot { value: None }
    }

    #[remote_method]
    pub fn replace(&mut self, value: T) -> Option<T> {
        self.value.replace(value)
    }
}

#[allow(dead_code)]
fn slot_usage(slot: Actor<Slot<std::cell::Cell<u8>>>) -> ObjectRef<Option<std::cell::Cell<u8>>> {
    slot.methods().replace().remote(std::cell::Cell::new(1))
}
