struct S;

#[honeyhive::trace(name = "x")]
impl S {
    pub fn f(&self) {}
}

fn main() {
    S.f();
}
