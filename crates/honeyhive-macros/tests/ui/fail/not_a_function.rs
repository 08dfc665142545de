#[honeyhive::trace]
struct Config {
    value: u8,
}

fn main() {
    let _ = Config { value: 1 };
}
