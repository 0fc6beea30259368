//! Profiling aid: validates manifests in a loop (`--invalid` for the
//! differential set; `--value` to validate the serde_json Values instead of
//! the compact Json), for callgrind or `perf record`.
#[path = "../tests/integration/util/cases.rs"]
mod cases;
use imgmanifest::{validate, Json, Mode, Options};
use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let values: Vec<_> = if args.iter().any(|a| a == "--invalid") {
        cases::all_cases(3000)
    } else {
        cases::bases().iter().map(|m| imgmanifest::upgrade(m).unwrap()).collect()
    };
    let compact: Vec<Json> = values.iter().map(Json::from).collect();
    let on_values = args.iter().any(|a| a == "--value");
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    for mode in [Mode::Minimal, Mode::Dc, Mode::Public, Mode::Private] {
        let o = Options::new(mode);
        let s = Instant::now();
        for i in 0..n {
            if on_values {
                std::hint::black_box(validate(&values[i % values.len()], &o));
            } else {
                std::hint::black_box(validate(&compact[i % compact.len()], &o));
            }
        }
        println!("{mode:?}: {:.3} us per validation", s.elapsed().as_secs_f64() / n as f64 * 1e6);
    }
}
