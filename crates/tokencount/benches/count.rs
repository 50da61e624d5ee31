//! Criterion benches: the fast count against tiktoken-rs on the same inputs.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fastllm_tokencount::{Counter, Encoding, Tokenizer};

/// A deterministic mixed text (prose, code, numbers, accents, CJK, emoji) of about `words` words.
fn mixed_text(words: usize) -> String {
    const WORDS: &[&str] = &[
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
    let mut out = String::new();
    for _ in 0..words {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out
}

fn bench_count(c: &mut Criterion) {
    let text = mixed_text(8000);
    let mut group = c.benchmark_group("count_10k_tokens");
    group.throughput(Throughput::Bytes(text.len() as u64));
    for encoding in [Encoding::Cl100kBase, Encoding::O200kBase] {
        let tokenizer = Tokenizer::get(encoding);
        let serial = Counter::new(encoding).with_parallel(false);
        let parallel = Counter::new(encoding);
        assert_eq!(
            tokenizer.count(&text),
            encoding.reference().encode_ordinary(&text).len()
        );
        group.bench_function(format!("{encoding}/fastllm_tokenizer"), |b| {
            b.iter(|| tokenizer.count(black_box(&text)))
        });
        group.bench_function(format!("{encoding}/fastllm_litellm_chunked_serial"), |b| {
            b.iter(|| serial.count(black_box(&text)))
        });
        group.bench_function(
            format!("{encoding}/fastllm_litellm_chunked_parallel"),
            |b| b.iter(|| parallel.count(black_box(&text))),
        );
        group.bench_function(format!("{encoding}/tiktoken_rs_encode_ordinary"), |b| {
            let reference = encoding.reference();
            b.iter(|| reference.encode_ordinary(black_box(&text)).len())
        });
    }
    group.finish();

    let shorts: Vec<String> = (0..1000)
        .map(|i| format!("short text number {i}"))
        .collect();
    let counter = Counter::new(Encoding::O200kBase);
    c.bench_function("count_1000_short_texts/o200k_base", |b| {
        b.iter(|| {
            shorts
                .iter()
                .map(|s| counter.count(black_box(s)))
                .sum::<usize>()
        })
    });
}

criterion_group!(benches, bench_count);
criterion_main!(benches);
