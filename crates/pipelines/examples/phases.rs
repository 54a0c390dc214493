//! Where the time of reading a pipeline file goes: `phases <dir> [runs]` prints, per phase, the fastest of `runs`
//! rounds over every file of the directory (saphyr's event stream alone, the located tree, the typed model,
//! schema validation). For profiling `keyless-pipelines`; not a test.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: phases <dir> [runs]");
    let runs: usize = args.next().map_or(5, |r| r.parse().unwrap());
    let mut texts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|t| keyless_pipelines::parse(t).is_ok())
        .collect();
    texts.sort();
    let n = texts.len() as f64;
    let us = |secs: f64| secs / n * 1e6;
    let events = best(runs, || {
        for t in &texts {
            let mut p = saphyr_parser::Parser::new_from_str(t);
            while let Some(e) = p.next_event() {
                std::hint::black_box(e.unwrap());
            }
        }
    });
    let tree = best(runs, || {
        for t in &texts {
            std::hint::black_box(keyless_pipelines::parse_document(t).unwrap());
        }
    });
    let model = best(runs, || {
        for t in &texts {
            let f = keyless_pipelines::parse(t).unwrap();
            std::hint::black_box(f.config());
        }
    });
    let steps = best(runs, || {
        for t in &texts {
            let f = keyless_pipelines::parse(t).unwrap();
            for p in f.pipelines() {
                std::hint::black_box(f.steps_of(p));
            }
        }
    });
    let validate = best(runs, || {
        for t in &texts {
            let f = keyless_pipelines::parse(t).unwrap();
            std::hint::black_box(keyless_pipelines::validate(&f));
        }
    });
    println!(
        "per file, fastest of {runs} rounds over {} files:",
        texts.len()
    );
    println!("  saphyr events     {:8.2} us", us(events));
    println!("  located tree      {:8.2} us", us(tree));
    println!("  + typed model     {:8.2} us", us(model));
    println!("  + steps_of        {:8.2} us", us(steps));
    println!("  tree + validate   {:8.2} us", us(validate));
}
