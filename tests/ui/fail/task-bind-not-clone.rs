// A task whose argument is not `Clone` runs with `.remote(..)`, but cannot be bound in a DAG.
use helio::prelude::*;

pub struct Token(u64);

#[remote]
fn spend(token: Token) -> u64 {
    token.0
}

fn main() {
    let _ran = spend.remote(Token(1));
    let _node: DagNode<u64> = spend.bind(Token(2));
}
