// An `async fn new` is a valid constructor; its arguments are passed to `.remote(..)`.
use helio::prelude::*;

pub struct Conn {
    addr: String,
}

#[actor]
impl Conn {
    pub async fn new(addr: String) -> Self {
        Conn { addr }
    }

    #[remote_method]
    pub fn addr(&self) -> String {
        self.addr.clone()
    }
}

#[allow(dead_code)]
fn usage() {
    let conn: Actor<Conn> = Conn::new_actor().remote("localhost".to_string());
    let _addr: ObjectRef<String> = conn.methods().addr().remote();
}

fn main() {}
