//! Where the time of a count goes (a development aid).
use fastllm_tokencount::{Encoding, Tokenizer};
use std::time::Instant;
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
    let t = Tokenizer::get(Encoding::O200kBase);
    let p = Encoding::O200kBase.pattern();
    let n: u32 = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Instant::now();
    let mut pieces = 0;
    for _ in 0..n {
        pieces += p.pieces(&text).count();
    }
    println!(
        "split: {:?}/iter, {} pieces",
        s.elapsed() / n,
        pieces / n as usize
    );
    let s = Instant::now();
    let mut tok = 0;
    for _ in 0..n {
        tok += t.count(&text);
    }
    println!(
        "count: {:?}/iter, {} tokens",
        s.elapsed() / n,
        tok / n as usize
    );
    let multi = p
        .pieces(&text)
        .filter(|x| t.count_piece(x.as_bytes()) > 1)
        .count();
    println!("pieces needing bpe: {multi}");
}
