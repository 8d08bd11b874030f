// `.remote(..)` returns `ObjectRef<R>` for a method returning `R`, sync or async, `&self` or `&mut self`.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(max_restarts = 4, max_task_retries = -1, max_concurrency = 1000, concurrency_groups = { io = 2, compute = 4 })]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    #[remote_method]
    pub fn reset(&mut self) {
        self.value = 0;
    }

    #[remote_method(concurrency_group = "compute")]
    pub fn describe(&self) -> String {
        self.value.to_string()
    }

    #[remote_method(concurrency_group = "io")]
    pub async fn echo(&self, msg: String) -> String {
        msg
    }

    #[remote_method]
    pub async fn add_async(&mut self, by: i64) -> Vec<i64> {
        self.value += by;
        vec![self.value]
    }
}

#[allow(dead_code)]
fn usage(c: &Actor<Counter>) {
    let _add: ObjectRef<i64> = c.methods().add().remote(2);
    let _reset: ObjectRef<()> = c.methods().reset().remote();
    let _describe: ObjectRef<String> = c.methods().describe().remote();
    let _echo: ObjectRef<String> = c.methods().echo().remote("hi".to_string());
    let _add_async: ObjectRef<Vec<i64>> = c.methods().add_async().remote(3);
}

fn main() {}
