//! A development aid: time (or, under callgrind, count instructions of) the split and the
//! count of a mixed ~10k-token text. `ITERS=N cargo run --release --example profile [split|count]`.

use std::time::Instant;

use fastllm_tokencount::{Encoding, Tokenizer};

fn main() {
    let words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "Deployment",
        "router",
        "latency",
        "token",
        "counter",
        "fn",
        "main()",
        "{",
        "}",
        "=>",
        "let",
        "x",
        "=",
        "42;",
        "2024-11-28",
        "3.14159",
        "café",
        "naïve",
        "日本語",
        "中文",
        "😀",
        "don't",
        "It's",
        "\n",
        "\n\n",
        "    ",
        "return",
        "Ok(())",
        "#include",
        "<stdio.h>",
        "SELECT",
        "*",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut text = String::new();
    for _ in 0..8000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(words[(state % words.len() as u64) as usize]);
        text.push(' ');
    }
    let iters: u32 = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(1);
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "count".to_owned());
    let tokenizer = Tokenizer::get(Encoding::O200kBase);
    let pattern = Encoding::O200kBase.pattern();
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..iters {
        total += if mode == "split" {
            pattern.pieces(&text).count()
        } else {
            tokenizer.count(&text)
        };
    }
    println!(
        "{mode}: {:?}/iter, {} per iter, {} bytes",
        start.elapsed() / iters,
        total / iters as usize,
        text.len()
    );
}
