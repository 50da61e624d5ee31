"""A deterministic corpus of ``token_counter`` calls: models x message shapes x texts.

``build_cases()`` returns a list of ``{"id": str, "kwargs": dict, "native": bool}``:

* ``kwargs`` are the keyword arguments of ``token_counter``;
* ``native`` says whether the patched function is expected to answer in Rust (no fallback to
  LiteLLM's own code). Cases with ``native=False`` are inputs the patch documents as handed
  back to LiteLLM (documents, files, Anthropic tool blocks, remote ``detail: "high"`` images,
  lone surrogates, float enums, ...) or inputs on which LiteLLM raises.

Everything is generated from ``random.Random(SEED)``: the same cases, in the same order, on
every run and every LiteLLM line.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import zlib
from typing import Any

SEED = 20_250_611

MODELS: tuple[str, ...] = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-5",
    "o3-mini",
    "gpt-4",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-0301",  # legacy accounting: 4 per message, -1 per name
    "claude-3-5-sonnet-20240620",
    "anthropic/claude-3-haiku-20240307",
    "gemini/gemini-1.5-pro",
    "mistral/mistral-large-latest",
    "some-unknown-model",
    "azure/gpt-4o",
    "text-davinci-003",
    "",
)

# --------------------------------------------------------------------------------------------
# text pieces

_WORDS = (
    "the quick brown fox jumps over lazy dog token counter model message assistant system "
    "user request response stream chunk boundary unicode emoji whitespace tab newline carriage "
    "return prose hello world lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
    "eiusmod tempor incididunt ut labore et dolore magna aliqua Python Rust LiteLLM OpenAI"
).split()

UNICODE_PIECES = (
    "café naïve résumé Ångström façade coöperate",
    "e\u0301 a\u0300 o\u0302\u0323 n\u0303 combining\u0301 marks\u0327",
    "\u017fhort long s: \u017ftate, \u017f\u017f, \ufb05 ligature \ufb01 \ufb02",
    "it's we'LL they'Re I'M you'Ve she'D don't can't O'Neil rock'n'roll",
    "IT'S WE'LL THEY'RE 'S 'T 'M 'D 'll 're 've",
    "don\u2019t won\u2019t \u2018quoted\u2019 \u201cdouble\u201d",
    "İstanbul ıi ß ẞ Straße ǅ ǈ ǋ Ϊ ΐ",
    "Ελληνικά κείμενο, русский текст, українська мова",
    "עברית טקסט العربية نص हिन्दी पाठ ไทย ภาษา",
    "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0360l\u0338g\u0489o",
    "math: ∑∫∂√∞ ≤ ≥ ≠ ≈ ∀x∈ℝ, ℵ₀ x² y³ ½ ⅞",
    "\u200b zero\u200bwidth \u200c\u200d joiners \ufeff bom \u2060",
    "fullwidth ＡＢＣ１２３ halfwidth ｱｲｳ",
)

EMOJI_PIECES = (
    "👍👍🏽👍🏿 ok",
    "family: 👨\u200d👩\u200d👧\u200d👦 and 👩\u200d❤\ufe0f\u200d💋\u200d👨",
    "flags 🇺🇳🇯🇵🇫🇷 🏳\ufe0f\u200d🌈 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "keycaps 1\ufe0f\u20e3 #\ufe0f\u20e3 ❤\ufe0f ☺\ufe0e",
    "🧑🏽\u200d💻 coding 🤖✨🔥💯🎉",
    "😀😃😄😁😆😅🤣😂🙂🙃😉😊😇",
)

CODE_PIECES = (
    'def f(x: int) -> int:\n    """Doc."""\n    return x ** 2  # square\n',
    "fn main() {\n\tlet v: Vec<u8> = vec![1, 2, 3];\n\tprintln!(\"{:?}\", v);\n}\n",
    '{"key": [1, 2.5, null, true], "nested": {"a": "b\\n"}}',
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name DESC LIMIT 10;",
    "<div class=\"x\"><p>Hello &amp; welcome</p></div>\n<script>alert('x')</script>",
    "    if (a && b || !c) { return a[i++] >> 2; }\r\n",
    "#!/bin/bash\nfor f in *.txt; do echo \"$f\" | sed 's/a/b/g'; done\n",
)

CJK_PIECES = (
    "你好，世界！这是一个测试句子。",
    "日本語のテキストです。ひらがなとカタカナと漢字。",
    "한국어 텍스트입니다. 안녕하세요!",
    "中文混合English和数字123。",
    "𠀀𠀁𠀂 𪚥 𫠠 extension B/C/D ideographs",
)

WHITESPACE_PIECES = (
    "",
    " ",
    "   ",
    "\n",
    "\r\n",
    "\t\t\t",
    "  \t\r\n\r\n   \u00a0\u00a0 x \n\n\n   ",
    "\u00a0\u00a0nbsp\u00a0 \u3000ideographic\u3000space\u2028line\u2029para",
    "trailing spaces    \n    leading spaces",
    "a\n\n\n\nb\r\r\rc\t \t \td",
    "\x0b\x0c vertical tab form feed \x1c\x1d\x1e\x1f",
    "x" + " " * 40 + "y",
)

SPECIAL_PIECES = (
    "<|endoftext|>",
    "before <|endoftext|> after",
    "<|im_start|>user\nhi<|im_end|>",
    "<|fim_prefix|>a<|fim_middle|>b<|fim_suffix|>",
    "<|endofprompt|><|endoftext|><|endoftext|>",
)

NUMBER_PIECES = (
    "12345678901234567890",
    "1,000,000.00 and 3.14159265358979",
    "0x1F 0b1010 1e-10 -42 +7",
    "2024-06-11T12:34:56Z",
)


def _prose(rng: random.Random, words: int) -> str:
    out = []
    for i in range(words):
        word = rng.choice(_WORDS)
        if i and rng.random() < 0.08:
            word = word.capitalize()
        out.append(word)
        if rng.random() < 0.07:
            out.append(rng.choice((",", ".", "!", "?", ";", ":")))
    return " ".join(out)


def _short_text(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return _prose(rng, rng.randint(1, 60))
    if kind == 1:
        return rng.choice(UNICODE_PIECES)
    if kind == 2:
        return rng.choice(EMOJI_PIECES)
    if kind == 3:
        return rng.choice(CODE_PIECES)
    if kind == 4:
        return rng.choice(CJK_PIECES)
    if kind == 5:
        return rng.choice(WHITESPACE_PIECES)
    if kind == 6:
        return rng.choice(SPECIAL_PIECES)
    if kind == 7:
        return rng.choice(NUMBER_PIECES)
    pieces = UNICODE_PIECES + EMOJI_PIECES + CODE_PIECES + CJK_PIECES + WHITESPACE_PIECES + SPECIAL_PIECES
    return "".join(rng.choice(pieces) for _ in range(rng.randint(2, 5)))


def _mixed(rng: random.Random, chars: int, pool: tuple[str, ...]) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        piece = rng.choice(pool) if rng.random() < 0.7 else _prose(rng, rng.randint(3, 40))
        out.append(piece)
        out.append(rng.choice((" ", "\n", "", "  ", "\r\n", "\t")))
        size += len(piece) + 1
    return "".join(out)[:chars]


def _boundary_text(rng: random.Random, chunk: int = 1024) -> str:
    """A long text where something interesting straddles every 1024-char chunk boundary."""
    straddlers = (
        "'s",
        "'LL",
        " 're",
        "  \n\n  ",
        "\r\n",
        "\u00a0\u00a0",
        "👨\u200d👩\u200d👧\u200d👦",
        "e\u0301\u0301",
        "12345",
        "日本語",
        "<|endoftext|>",
        "\U0001f44d\U0001f3fd",
        "ſtate",
        "     ",
        "\t\t\n",
        "ab" * 3,
    )
    fillers = ("a", "x", " ", "é", "中", "word ", "\n")
    out: list[str] = []
    size = 0
    boundaries = rng.randint(5, 19)
    for _ in range(boundaries):
        straddler = rng.choice(straddlers)
        offset = rng.randint(1, max(1, len(straddler) - 1)) if len(straddler) > 1 else 0
        filler = rng.choice(fillers)
        body_len = chunk - (size % chunk) - offset
        if body_len <= 0:
            body_len += chunk
        body = (filler * (body_len // len(filler) + 1))[:body_len]
        out.append(body)
        out.append(straddler)
        size += body_len + len(straddler)
    return "".join(out)


def _long_text(rng: random.Random) -> str:
    kind = rng.randrange(6)
    chars = rng.randint(5_000, 20_000)
    if kind == 0:
        return _mixed(rng, chars, (_prose(rng, 50),))
    if kind == 1:  # multi-byte heavy
        return _mixed(rng, chars, CJK_PIECES + EMOJI_PIECES)
    if kind == 2:
        return _mixed(rng, chars, UNICODE_PIECES + EMOJI_PIECES + CJK_PIECES + WHITESPACE_PIECES)
    if kind == 3:
        return _mixed(rng, chars, CODE_PIECES + SPECIAL_PIECES + NUMBER_PIECES)
    if kind == 4:
        return _boundary_text(rng)
    # one repeated multi-byte character / whitespace run: long runs across chunks
    run = rng.choice(("中", "👍", " ", "\n", "a", "é", "\u00a0", "ab ", "'s"))
    return run * (chars // len(run))


def _text(rng: random.Random, long_share: float = 0.06) -> str:
    return _long_text(rng) if rng.random() < long_share else _short_text(rng)


# --------------------------------------------------------------------------------------------
# images


def png(width: int, height: int, extra: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + bytes(extra)


def gif(width: int, height: int, version: bytes = b"89a", extra: int = 0) -> bytes:
    return b"GIF" + version + struct.pack("<HH", width, height) + b"\xf7\x00\x00" + bytes(extra)


def jpeg(
    width: int,
    height: int,
    sof: int = 0xC0,
    *,
    app0: bool = True,
    dht_first: bool = False,
    fill: int = 0,
    extra: int = 0,
) -> bytes:
    out = bytearray(b"\xff\xd8")
    if app0:
        out += b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    if dht_first:
        table = bytes(29)
        out += b"\xff\xc4" + struct.pack(">H", len(table) + 2) + table
    out += b"\xff" * fill
    out += bytes((0xFF, sof)) + struct.pack(">HBHHB", 17, 8, height, width, 3)
    out += b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return bytes(out) + bytes(extra)


def webp(width: int, height: int, kind: str = "VP8X") -> bytes:
    if kind == "VP8X":
        body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
        body += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif kind == "VP8 ":
        body = b"VP8 " + struct.pack("<I", 10) + b"\x00\x00\x00\x9d\x01\x2a"
        body += struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    else:
        bits = ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
        body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body + bytes(8)


def data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


_DIMENSIONS = (
    (1, 1),
    (16, 16),
    (300, 300),
    (511, 512),
    (512, 512),
    (513, 513),
    (767, 768),
    (768, 768),
    (769, 768),
    (1024, 768),
    (768, 1024),
    (1, 769),
    (769, 1),
    (2000, 2000),
    (2048, 4096),
    (4096, 2048),
    (1920, 1080),
    (1080, 1920),
    (3000, 7),
    (65535, 65535),
    (12345, 678),
    (999, 1001),
)


def _dims(rng: random.Random) -> tuple[int, int]:
    if rng.random() < 0.5:
        return rng.choice(_DIMENSIONS)
    return rng.randint(1, 6000), rng.randint(1, 6000)


def _inline_image(rng: random.Random) -> tuple[str, str]:
    """A data URL of a small valid image header, and the format's name."""
    w, h = _dims(rng)
    kind = rng.randrange(9)
    extra = rng.choice((0, 0, 10, 200, 3000, 70_000))
    if kind <= 2:
        return data_url("image/png", png(w, h, extra)), "png"
    if kind == 3:
        return data_url("image/gif", gif(min(w, 65535), min(h, 65535), rng.choice((b"89a", b"87a")), extra)), "gif"
    if kind <= 6:
        return (
            data_url(
                "image/jpeg",
                jpeg(
                    min(w, 65535),
                    min(h, 65535),
                    rng.choice((0xC0, 0xC1, 0xC2, 0xC3)),
                    app0=rng.random() < 0.7,
                    dht_first=rng.random() < 0.3,
                    fill=rng.choice((0, 0, 1, 3)),
                    extra=extra,
                ),
            ),
            "jpeg",
        )
    if kind == 7:
        return data_url("image/webp", webp(min(w, 16383), min(h, 16383), rng.choice(("VP8X", "VP8 ", "VP8L")))), "webp"
    # a mismatched MIME type: LiteLLM sniffs the bytes
    return data_url(rng.choice(("image/jpeg", "image/gif", "image/x-unknown")), png(w, h)), "png-mislabelled"


# Padding after a complete base64 quantum: the patch leaves its reading to LiteLLM.
_EXCESS_PADDING_URL = "data:image/png;base64," + base64.b64encode(png(640, 480)).decode() + "="

# Inline images LiteLLM reads but cannot size: unknown formats, truncated headers, invalid base64.
_ODD_IMAGE_URLS = (
    "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),  # truncated PNG
    "data:image/png;base64," + base64.b64encode(b"not an image at all").decode(),
    "data:image/heic;base64," + base64.b64encode(b"\x00\x00\x00\x18ftypheic" + bytes(16)).decode(),
    "data:image/png;base64," + base64.b64encode(png(640, 480)).decode().rstrip("="),  # missing padding
    "data:image/png;base64,@@@@",
    _EXCESS_PADDING_URL,
    "data:image/png;base64," + base64.b64encode(png(640, 480, 1)).decode()[:-1],  # one '=' short
    "data:image/png;base64," + base64.b64encode(png(640, 480, 2)).decode() + "QQ==",  # data after padding
    "data:image/png;base64," + base64.b64encode(png(640, 480)).decode()[:20] + "\n" + base64.b64encode(png(640, 480)).decode()[20:],
    "data:image/png;base64," + base64.b64encode(png(640, 480)).decode().replace("+", "-").replace("/", "_"),
    "data:image/png;base64," + base64.b64encode(png(640, 480)).decode() + "é",  # non-ASCII
    "data:image/png;base64,Q",
    "data:image/png;base64,QQ=",
    "data:image/png;base64,====",
    "data:image/png;base64,QUJD=QUJD",
    "data:image/png;charset=utf-8;base64," + base64.b64encode(png(800, 600)).decode(),
    "data:image/png;BASE64," + base64.b64encode(png(800, 600)).decode(),
    "data:IMAGE/png;base64," + base64.b64encode(png(800, 600)).decode(),
    "data:image/jpeg;base64," + base64.b64encode(jpeg(100, 200)[:30]).decode(),  # truncated inside SOF
    "data:image/png;base64,",
    "data:image/png," + base64.b64encode(png(640, 480)).decode(),  # not ;base64
    "data:image/gif;base64," + base64.b64encode(b"GIF89a\x10").decode(),  # truncated GIF
    "data:image/gif;base64," + base64.b64encode(b"GIF8xa" + struct.pack("<HH", 900, 900)).decode(),
    "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF").decode(),  # no SOF
    "data:image/webp;base64," + base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8Z" + bytes(20)).decode(),
    "data:image/png;base64," + base64.b64encode(png(0, 500)).decode(),
    "data:image/png;base64," + base64.b64encode(png(500, 0)).decode(),
    "data:image/png;base64," + base64.b64encode(png(2**31, 3)).decode(),
    "data:text/plain;base64,aGVsbG8=",
    "data:image/svg+xml;base64," + base64.b64encode(b"<svg width='10' height='10'/>").decode(),
    "data:image/" + "x" * 200 + ";base64," + base64.b64encode(png(900, 900)).decode(),  # header > 128
)

_REMOTE_URLS = (
    "https://example.com/cat.png",
    "http://example.com/dog.jpg?size=large&x=1",
    "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg",
    "ftp://example.com/image.gif",
    "not a url at all",
    "/relative/path.png",
)


def _image_part(rng: random.Random) -> tuple[dict[str, Any] | str, bool]:
    """An ``image_url`` content part and whether the patch answers it natively."""
    r = rng.random()
    readable = r < 0.55
    if readable:
        url, _ = _inline_image(rng)
    elif r < 0.75:
        url = rng.choice(_ODD_IMAGE_URLS)
    else:
        url = rng.choice(_REMOTE_URLS)
    remote = url.startswith(("http://", "https://"))
    modelled = url != _EXCESS_PADDING_URL
    style = rng.randrange(6)
    if style == 0:  # a bare string image_url: detail "auto"
        return {"type": "image_url", "image_url": url}, modelled
    if style == 1:  # no detail key: "auto"
        return {"type": "image_url", "image_url": {"url": url}}, modelled
    detail = rng.choice(("auto", "low", "high", "high"))
    if detail == "high" and remote:
        # LiteLLM downloads remote images for "high"; aim at a closed local port so it fails fast
        url = "http://127.0.0.1:9/image.png"
        return {"type": "image_url", "image_url": {"url": url, "detail": detail}}, False
    # "high" reads the image's real size: LiteLLM raises on what it cannot read
    native = (detail != "high" or readable) and (detail == "low" or modelled)
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}, native


def _anthropic_image(rng: random.Random) -> tuple[dict[str, Any], bool]:
    r = rng.random()
    if r < 0.6:
        url, _ = _inline_image(rng)
        media_type, _, data = url[len("data:") :].partition(";base64,")
        if rng.random() < 0.2:
            media_type = rng.choice(("image/png", "image/webp", ""))
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
        if not media_type and rng.random() < 0.5:
            del source["media_type"]
    elif r < 0.75:
        source = {"type": "url", "url": rng.choice(_REMOTE_URLS)}
    elif r < 0.85:
        source = {"type": "base64", "media_type": "image/png", "data": ""}
    else:
        source = {"type": "file", "file_id": "file_123"}
    return {"type": "image", "source": source}, True


# --------------------------------------------------------------------------------------------
# tools


def _schema(rng: random.Random, depth: int = 0) -> tuple[dict[str, Any], bool]:
    """A JSON schema property and whether it renders without Python's str() of a float."""
    kind = rng.choice(("string", "enum", "integer", "number", "boolean", "array", "object", "null", "none", "ienum"))
    if depth >= 3 and kind in ("array", "object"):
        kind = "string"
    native = True
    prop: dict[str, Any]
    if kind == "string":
        prop = {"type": "string"}
    elif kind == "enum":
        prop = {"type": "string", "enum": rng.sample(["celsius", "fahrenheit", "kelvin", "a b", "é", "🙂", "x"], 3)}
    elif kind == "ienum":
        values = rng.choice(([1, 2, 3], [0, -1], [True, None, "x"], [1.5, 2.0]))
        native = 1.5 not in values
        prop = {"type": rng.choice(("integer", "number", "string")), "enum": values}
    elif kind in ("integer", "number", "boolean", "null"):
        prop = {"type": kind}
    elif kind == "none":
        prop = {"description": "untyped"} if rng.random() < 0.5 else {"type": ["string", "null"]}
    elif kind == "array":
        items, native = _schema(rng, depth + 1)
        prop = {"type": "array", "items": items}
        if rng.random() < 0.2:
            del prop["items"]
    else:
        properties: dict[str, Any] = {}
        for _ in range(rng.randint(0, 3)):
            sub, ok = _schema(rng, depth + 1)
            native = native and ok
            properties[rng.choice(("x", "y", "z", "nested_key", "ключ", "with space"))] = sub
        prop = {"type": "object", "properties": properties}
        if properties and rng.random() < 0.5:
            prop["required"] = rng.sample(sorted(properties), rng.randint(1, len(properties)))
    if rng.random() < 0.4:
        prop["description"] = rng.choice(("The city", "Unit of temperature — °C/°F", "多语言描述", "a\nmultiline\ndescription", ""))
    return prop, native


def _parameters(rng: random.Random) -> tuple[dict[str, Any], bool]:
    properties: dict[str, Any] = {}
    native = True
    for i in range(rng.randint(0, 5)):
        prop, ok = _schema(rng)
        native = native and ok
        properties[rng.choice(("location", "unit", "days", "query", "options", "tags", "limit")) + str(i % 2 or "")] = prop
    params: dict[str, Any] = {"type": "object", "properties": properties}
    if properties and rng.random() < 0.7:
        params["required"] = rng.sample(sorted(properties), rng.randint(1, len(properties)))
    if rng.random() < 0.1:
        params["additionalProperties"] = False
    return params, native


def _tool(rng: random.Random) -> tuple[Any, bool]:
    name = rng.choice(("get_weather", "search", "calc", "lookup_user", "send_email", "f", "ツール"))
    description = rng.choice((None, "Get the current weather in a given location", "", "Search the web.\nReturns results."))
    params, native = _parameters(rng)
    style = rng.randrange(8)
    if style <= 3:  # OpenAI function tool
        function: dict[str, Any] = {"name": name, "parameters": params}
        if description is not None:
            function["description"] = description
        if rng.random() < 0.15:
            function["strict"] = True
        return {"type": "function", "function": function}, native
    if style == 4:  # Anthropic tool
        tool: dict[str, Any] = {"name": name, "input_schema": params}
        if description is not None:
            tool["description"] = description
        if rng.random() < 0.3:
            tool["cache_control"] = {"type": "ephemeral"}
        return tool, native
    if style == 5:  # Gemini function declarations
        decls = [{"name": name, "description": description or "d", "parameters": params}]
        return {"function_declarations": decls}, native
    if style == 6:  # an OpenAI tool without parameters / without a name
        return rng.choice(
            (
                {"type": "function", "function": {"name": name}},
                {"type": "function", "function": {"name": "", "parameters": params}},
                {"type": "function", "function": {"name": name, "parameters": {}}},
                {"type": "function", "function": {"name": name, "description": "no props", "parameters": {"type": "object", "properties": {}}}},
            )
        ), True
    return rng.choice(
        (
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},  # Anthropic server tool
            {"name": name, "parameters": params, "description": "flat tool"},
        )
    ), native


TOOL_CHOICES: tuple[Any, ...] = (
    None,
    "auto",
    "none",
    "required",
    {"type": "function", "function": {"name": "get_weather"}},
    {"type": "function", "function": {"name": "検索"}},
    {"type": "none"},
    {"type": "auto"},
    {"type": "tool", "name": "calc"},
    {"name": "x"},
    {"function": {"name": 5}},
    {"type": "function", "function": {}},
)


# --------------------------------------------------------------------------------------------
# messages


def _role(rng: random.Random) -> str:
    return rng.choice(("user", "assistant", "system", "user", "user"))


def _text_parts(rng: random.Random) -> list[Any]:
    parts: list[Any] = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.6:
            parts.append({"type": "text", "text": _text(rng)})
        elif r < 0.85:
            parts.append(_text(rng))  # a bare str part
        elif r < 0.92:
            parts.append({"type": "text", "text": ""})
        else:
            parts.append({"type": "text", "text": _text(rng), "cache_control": {"type": "ephemeral"}})
    return parts


def _tool_call(rng: random.Random, i: int) -> dict[str, Any]:
    args: Any = json.dumps(
        {"location": _short_text(rng), "days": rng.randint(1, 10), "nested": {"x": [1, 2, {"y": None}]}},
        ensure_ascii=rng.random() < 0.5,
    )
    if rng.random() < 0.15:
        args = rng.choice(("", "{}", "not json {", _text(rng)))
    call: dict[str, Any] = {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather", "arguments": args}}
    if rng.random() < 0.1:
        del call["function"]["arguments"]
    return call


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cases: list[dict[str, Any]] = []
        self._model_cycle = 0

    def model(self) -> str:
        # every model gets its share of every shape: walk the list, with a random start
        self._model_cycle += 1
        return MODELS[(self._model_cycle * 7 + self.rng.randrange(3)) % len(MODELS)]

    def add(self, shape: str, kwargs: dict[str, Any], native: bool = True) -> None:
        model = kwargs.get("model", "")
        self.cases.append({"id": f"{len(self.cases):04d}-{shape}-{model or 'empty'}", "kwargs": kwargs, "native": native})

    def crt(self) -> Any:
        return self.rng.choice((False, False, False, True, None))


def build_cases(seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    b = _Builder(rng)

    # text= as str: every model x every text family
    families = (
        lambda: _prose(rng, rng.randint(1, 80)),
        lambda: rng.choice(UNICODE_PIECES),
        lambda: rng.choice(EMOJI_PIECES),
        lambda: rng.choice(CODE_PIECES),
        lambda: rng.choice(CJK_PIECES),
        lambda: rng.choice(WHITESPACE_PIECES),
        lambda: rng.choice(SPECIAL_PIECES),
        lambda: _long_text(rng),
    )
    for model in MODELS:
        for family in families:
            b.add("text", {"model": model, "text": family()})

    # text= as a list of str, with non-str items mixed in
    for _ in range(32):
        items: list[Any] = [_text(rng) for _ in range(rng.randint(0, 5))]
        for _ in range(rng.randint(0, 3)):
            items.insert(rng.randint(0, len(items)), rng.choice((1, None, 2.5, b"bytes", ["nested"], {"a": 1})))
        b.add("text_list", {"model": b.model(), "text": items})

    # long texts, alone and in messages
    for _ in range(24):
        b.add("long_text", {"model": b.model(), "text": _long_text(rng)})
    for _ in range(16):
        b.add(
            "long_messages",
            {"model": b.model(), "messages": [{"role": "user", "content": _long_text(rng)}, {"role": "assistant", "content": _long_text(rng)}]},
        )

    # plain role/content
    for _ in range(64):
        messages = [{"role": _role(rng), "content": _text(rng)} for _ in range(rng.randint(1, 4))]
        b.add("plain", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # with "name"
    for _ in range(32):
        messages = [{"role": "user", "name": rng.choice(("alice", "Bob_2", "例", "")), "content": _text(rng)}]
        if rng.random() < 0.5:
            messages.append({"role": "assistant", "content": _text(rng), "name": "helper"})
        b.add("name", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # system + user + assistant
    for _ in range(40):
        messages = [
            {"role": "system", "content": _text(rng)},
            {"role": "user", "content": _text(rng)},
            {"role": "assistant", "content": _text(rng)},
        ]
        if rng.random() < 0.3:
            messages.append({"role": "user", "content": _text(rng)})
        b.add("chat", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # content as a list of text parts and str parts
    for _ in range(40):
        messages = [{"role": _role(rng), "content": _text_parts(rng)} for _ in range(rng.randint(1, 3))]
        b.add("content_list", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # thinking / redacted_thinking blocks
    for _ in range(24):
        content: list[Any] = [{"type": "thinking", "thinking": _text(rng), "signature": "sig=="}]
        if rng.random() < 0.5:
            content.append({"type": "redacted_thinking", "data": "opaque-base64=="})
        if rng.random() < 0.3:
            content.append({"type": "redacted_thinking", "thinking": _text(rng)})
        content.append({"type": "text", "text": _text(rng)})
        messages = [{"role": "user", "content": _text(rng)}, {"role": "assistant", "content": content}]
        b.add("thinking", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # assistant tool_calls and function_call, then tool results
    for _ in range(36):
        calls = [_tool_call(rng, i) for i in range(rng.randint(1, 3))]
        messages = [
            {"role": "user", "content": _text(rng)},
            {"role": "assistant", "content": rng.choice((None, "", _text(rng))), "tool_calls": calls},
        ]
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": _text(rng)})
        b.add("tool_calls", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})
    for _ in range(16):
        call = {"name": "get_weather", "arguments": json.dumps({"q": _short_text(rng)})}
        if rng.random() < 0.2:
            call = rng.choice(({"name": "f"}, {"name": "f", "arguments": None}, {"arguments": 42}))
        messages = [
            {"role": "user", "content": _text(rng)},
            {"role": "assistant", "content": None, "function_call": call},
            {"role": "function", "name": "get_weather", "content": _text(rng)},
        ]
        b.add("function_call", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})
    for _ in range(16):
        messages = [
            {"role": "tool", "tool_call_id": f"call_{rng.randint(0, 999)}", "content": _text(rng)},
            {"role": "tool", "tool_call_id": "call_x", "content": _text_parts(rng)},
        ]
        b.add("tool_role", {"model": b.model(), "messages": messages, "count_response_tokens": b.crt()})

    # image_url parts
    for _ in range(120):
        native = True
        parts: list[Any] = []
        for _ in range(rng.randint(1, 3)):
            part, ok = _image_part(rng)
            native = native and ok
            parts.append(part)
        if rng.random() < 0.6:
            parts.insert(0, {"type": "text", "text": _text(rng)})
        use_default = rng.random() < 0.12
        kwargs: dict[str, Any] = {"model": b.model(), "messages": [{"role": "user", "content": parts}]}
        if use_default:
            kwargs["use_default_image_token_count"] = True
            native = True  # every image counts DEFAULT_IMAGE_TOKEN_COUNT, nothing is read or fetched
        elif rng.random() < 0.1:
            kwargs["use_default_image_token_count"] = rng.choice((False, None))
        b.add("image_url", kwargs, native)

    # Anthropic image blocks
    for _ in range(32):
        parts = []
        for _ in range(rng.randint(1, 2)):
            part, _ = _anthropic_image(rng)
            parts.append(part)
        parts.append({"type": "text", "text": _text(rng)})
        kwargs = {"model": b.model(), "messages": [{"role": "user", "content": parts}]}
        if rng.random() < 0.15:
            kwargs["use_default_image_token_count"] = True
        b.add("anthropic_image", kwargs)

    # tools and tool_choice
    for _ in range(72):
        native = True
        tools = []
        for _ in range(rng.randint(1, 3)):
            tool, ok = _tool(rng)
            native = native and ok
            tools.append(tool)
        messages = [{"role": "user", "content": _text(rng)}]
        if rng.random() < 0.5:
            messages.insert(0, {"role": "system", "content": _short_text(rng)})
        crt = rng.choice((False, False, False, False, True, None))
        kwargs = {"model": b.model(), "messages": messages, "tools": tools, "count_response_tokens": crt}
        choice = rng.choice(TOOL_CHOICES)
        if choice is not None:
            kwargs["tool_choice"] = choice
        b.add("tools", kwargs, native or crt is not False)
    for choice in TOOL_CHOICES[1:]:
        b.add("tool_choice", {"model": b.model(), "messages": [{"role": "user", "content": "hi"}], "tool_choice": choice})

    # assorted shapes LiteLLM reads in particular ways
    odd: list[tuple[str, dict[str, Any], bool]] = [
        ("empty_messages", {"messages": []}, True),
        ("empty_tuple_messages", {"messages": ()}, True),
        ("tuple_messages", {"messages": ({"role": "user", "content": "tuple of messages"},)}, True),
        ("none_content", {"messages": [{"role": "assistant", "content": None}]}, True),
        ("int_content", {"messages": [{"role": "user", "content": 42}]}, True),
        ("dict_content", {"messages": [{"role": "user", "content": {"text": "dict"}}]}, True),
        ("empty_list_content", {"messages": [{"role": "user", "content": []}]}, True),
        ("no_role", {"messages": [{"content": "no role at all"}]}, True),
        ("extra_keys", {"messages": [{"role": "user", "content": "x", "weight": 1, "meta": {"a": [1, 2]}, "flag": True}]}, True),
        ("name_non_str", {"messages": [{"role": "user", "content": "x", "name": 5}]}, True),
        ("empty_tool_calls", {"messages": [{"role": "assistant", "content": "x", "tool_calls": []}]}, True),
        ("args_none", {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": None}}]}]}, True),
        ("args_int", {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 123}}]}]}, True),
        ("args_bool", {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": True}}]}]}, True),
        ("args_float", {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 1.5}}]}]}, False),
        ("args_dict", {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]}, False),
        ("tool_call_no_function", {"messages": [{"role": "assistant", "tool_calls": [{"id": "x"}]}]}, False),
        ("tool_calls_not_list", {"messages": [{"role": "assistant", "tool_calls": {"function": {}}}]}, False),
        ("function_call_not_dict", {"messages": [{"role": "assistant", "function_call": "f()"}]}, False),
        ("text_block_int", {"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]}, False),
        ("text_block_zero", {"messages": [{"role": "user", "content": [{"type": "text", "text": 0}]}]}, True),
        ("text_block_none", {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]}, True),
        ("text_block_missing", {"messages": [{"role": "user", "content": [{"type": "text"}]}]}, True),
        ("block_no_type", {"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, False),
        ("block_unknown_type", {"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}, False),
        ("block_int", {"messages": [{"role": "user", "content": [5]}]}, False),
        ("compaction_block", {"messages": [{"role": "assistant", "content": [{"type": "compaction", "content": "summary of the earlier turns"}]}]}, True),
        ("tool_reference", {"messages": [{"role": "user", "content": [{"type": "tool_reference", "tool_name": "get_weather"}]}]}, True),
        (
            "provider_fields",
            {"messages": [{"role": "assistant", "content": "x", "provider_specific_fields": {"compaction_blocks": [{"type": "compaction", "content": "earlier turns, summarised"}, {"type": "other", "content": "no"}]}}]},
            True,
        ),
        ("provider_fields_empty", {"messages": [{"role": "assistant", "content": "x", "provider_specific_fields": {"x": 1}}]}, True),
        (
            "search_results",
            {"messages": [{"role": "user", "content": "q", "search_results": [{"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "found"}]}]}]},
            False,
        ),
        (
            "document_text",
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello document"}, "title": "Doc"}]}]},
            False,
        ),
        (
            "file_block",
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"filename": "notes.txt", "file_data": "data:text/plain;base64,aGVsbG8gd29ybGQ="}}]}]},
            False,
        ),
        (
            "tool_use_block",
            {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "calc", "input": {"x": 1}}]}]},
            False,
        ),
        (
            "tool_result_block",
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "42"}]}]},
            False,
        ),
        ("image_detail_bad", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "ultra"}}]}]}, False),
        ("image_detail_none", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": None}}]}]}, False),
        ("image_no_url", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"detail": "low"}}]}]}, False),
        ("image_empty_str", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": " \t\u3000\x1c "}]}]}, False),
        ("image_missing", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, False),
        (
            "image_high_remote_default",
            {
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/a.png", "detail": "high"}}]}],
                "default_token_count": 7,
            },
            False,
        ),
        ("image_source_missing", {"messages": [{"role": "user", "content": [{"type": "image"}]}]}, False),
        ("lone_surrogate_text", {"text": "a\ud800b"}, False),
        ("lone_surrogate_message", {"messages": [{"role": "user", "content": "x\udfff"}]}, False),
        ("messages_str", {"messages": "notalist"}, False),
        ("messages_ints", {"messages": [1, 2]}, False),
        ("text_int", {"text": 123}, False),
        ("text_tuple", {"text": ("a", "b")}, False),
        ("text_and_messages", {"text": "a", "messages": [{"role": "user", "content": "b"}]}, False),
        ("neither", {}, False),
        ("text_with_tools", {"text": "a", "tools": [{"type": "function", "function": {"name": "f"}}]}, False),
        ("text_with_tool_choice", {"text": "a", "tool_choice": "auto"}, False),
        ("text_with_empty_tools", {"text": "abc", "tools": []}, True),
        ("count_response_zero", {"messages": [{"role": "user", "content": "zero"}], "count_response_tokens": 0}, True),
        ("count_response_str", {"messages": [{"role": "user", "content": "str"}], "count_response_tokens": "yes"}, True),
        ("default_image_one", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]}], "use_default_image_token_count": 1}, True),
        ("non_str_key", {"messages": [{"role": "user", "content": "x", 1: "int key"}]}, False),
        ("big_int", {"messages": [{"role": "user", "content": "x", "n": 2**70}]}, False),
        ("tools_not_list", {"messages": [{"role": "user", "content": "x"}], "tools": {"name": "f"}}, False),
        (
            "web_search_tool",
            {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            True,
        ),
        ("tools_non_dict_items", {"messages": [{"role": "user", "content": "x"}], "tools": ["f", 1, None]}, True),
    ]
    for shape, kwargs, native in odd:
        for model in ("gpt-4o", "gpt-3.5-turbo-0301", rng.choice(MODELS)):
            b.add(shape, {"model": model, **kwargs}, native)

    return b.cases


CASES: list[dict[str, Any]] = build_cases()
