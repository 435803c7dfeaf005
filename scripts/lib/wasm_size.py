"""The size breakdown of a Worker's wasm, for scripts/wasm-size.sh.

Usage: wasm_size.py NAMED_WASM TWIGGY_CSV SHIPPED_WASM TOP

NAMED_WASM is the Worker's wasm after wasm-bindgen and `wasm-opt -Oz -g` (the
shipped code, with the function names kept); TWIGGY_CSV is `twiggy top` of it
as CSV; SHIPPED_WASM is build/index_bg.wasm. Prints Markdown on stdout.

Code is attributed by the demangled name of each function: to its crate, and
within loyalty-core to its module. Data segments are attributed by content.
gzip shares are estimates: each group is compressed on its own (gzip -9), which
is what it would cost if it were the only thing removed, roughly.
"""

import csv
import gzip
import re
import sys
from collections import Counter, defaultdict

named_path, csv_path, shipped_path, top_n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
named = open(named_path, "rb").read()
shipped = open(shipped_path, "rb").read()


def leb(buf, i):
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def sections(buf):
    """(id, name, payload) of each section of a wasm module."""
    i = 8
    while i < len(buf):
        sid = buf[i]
        size, j = leb(buf, i + 1)
        payload = buf[j : j + size]
        name = None
        if sid == 0:
            n, k = leb(payload, 0)
            name = payload[k : k + n].decode("utf-8", "replace")
        yield sid, name, payload
        i = j + size


def skip_init_expr(buf, k):
    while buf[k] != 0x0B:
        k += 1
    return k + 1


def data_segments(buf):
    out = []
    for sid, _, payload in sections(buf):
        if sid != 11:
            continue
        count, k = leb(payload, 0)
        for _ in range(count):
            flag, k = leb(payload, k)
            if flag == 0:
                k = skip_init_expr(payload, k)
            elif flag == 2:
                _, k = leb(payload, k)
                k = skip_init_expr(payload, k)
            n, k = leb(payload, k)
            out.append(payload[k : k + n])
            k += n
    return out


def gz(b):
    return len(gzip.compress(b, 9))


def kib(n):
    return f"{n / 1024:,.1f} KiB"


# --- the shipped module, section by section -----------------------------------------------
print("## The shipped module\n")
print(f"`build/index_bg.wasm`: {len(shipped):,} B raw, **{gz(shipped):,} B gzip** ({kib(gz(shipped))}).\n")
print("| Section | Raw | gzip alone |")
print("|---|---:|---:|")
names = {1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export",
         8: "start", 9: "element", 10: "code", 11: "data", 12: "data count"}
code_gz = data_gz = 0
for sid, name, payload in sections(shipped):
    label = names.get(sid, f"id {sid}") if sid else f"custom `{name}`"
    g = gz(payload)
    if sid == 10:
        code_gz = g
    if sid == 11:
        data_gz = g
    print(f"| {label} | {len(payload):,} | {g:,} |")
print()

# --- data ---------------------------------------------------------------------------------
segments = data_segments(named)
kinds = Counter()
kinds_gz = defaultdict(bytes)
SQL = re.compile(rb"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE (TABLE|INDEX|UNIQUE)|WITH|RETURNING|json_extract)\b")
CYRILLIC = re.compile(rb"[\xd0\xd1][\x80-\xbf]")
VIET = re.compile(rb"\xe1[\xba\xbb][\x80-\xbf]")
PATH = re.compile(rb"(/rustc/|/root/\.cargo/|\.cargo/registry|src/[a-z_/]+\.rs)")
for seg in segments:
    # Split each segment into NUL-separated runs and classify them.
    for run in re.split(rb"\x00{2,}", seg):
        if not run:
            continue
        if run.lstrip().startswith(b"{\n  \"components\"") or b'"openapi"' in run[:4000] and len(run) > 10000:
            kind = "OpenAPI document (`GET /api/v1/openapi.json`)"
        elif len(SQL.findall(run)) >= 2:
            kind = "SQL texts (D1 statements)"
        elif len(CYRILLIC.findall(run)) > 20:
            kind = "texts: Russian"
        elif len(VIET.findall(run)) > 10:
            kind = "texts: Vietnamese"
        elif PATH.search(run):
            kind = "source paths (panic locations) and messages"
        elif sum(1 for c in run if 32 <= c < 127) > 0.8 * len(run):
            kind = "other text (messages, names, keys)"
        else:
            kind = "binary tables (vtables, Unicode and other tables)"
        kinds[kind] += len(run)
        kinds_gz[kind] += run
print("## Data\n")
print(f"{len(segments)} segments, {sum(map(len, segments)):,} B raw, {gz(b''.join(segments)):,} B gzip together.\n")
print("| What | Raw | gzip alone |")
print("|---|---:|---:|")
for kind, n in kinds.most_common():
    print(f"| {kind} | {n:,} | {gz(kinds_gz[kind]):,} |")
print()

# --- code by crate and module -------------------------------------------------------------
rows = list(csv.DictReader(open(csv_path)))
by_crate = Counter()
by_module = Counter()
functions = []
CRATE = re.compile(r"^(?:<+|&|mut |dyn |\(|\[)*([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::")
for row in rows:
    name, size = row["Name"], int(row["ShallowSize"])
    if name.startswith('"') or name.startswith("data segment") or name.startswith("custom section"):
        continue
    m = CRATE.match(name)
    crate = m.group(1) if m else "(other: glue, intrinsics, std shims)"
    # Generic code is attributed to the crate whose type it was instantiated for when that is ours.
    ours = re.search(r"\b(loyalty_[a-z_]+)::", name)
    if crate in ("core", "alloc", "serde", "serde_core", "serde_json") and ours:
        crate = f"{crate} (for {ours.group(1)})"
    by_crate[crate] += size
    lm = re.search(r"loyalty_core::([a-z_]+)(?:::([a-z_]+))?", name)
    if lm:
        by_module["::".join(filter(None, lm.groups()))] += size
    functions.append((size, name))

total_code = sum(by_crate.values())
print("## Code by crate\n")
print(f"Function bodies: {total_code:,} B raw (the code section compresses to about {code_gz:,} B alone).\n")
print("| Crate | Raw | Share of code |")
print("|---|---:|---:|")
for crate, n in by_crate.most_common(30):
    print(f"| {crate} | {n:,} | {100 * n / total_code:.1f}% |")
print()
print("## loyalty-core by module\n")
print("Every function whose name mentions the module, generic code included (a function may count twice).\n")
print("| Module | Raw |")
print("|---|---:|")
for module, n in by_module.most_common(25):
    print(f"| {module} | {n:,} |")
print()
print(f"## The {top_n} largest functions\n")
print("| Raw | Function |")
print("|---:|---|")
for size, name in sorted(functions, reverse=True)[:top_n]:
    short = re.sub(r"::h[0-9a-f]{16}$", "", name)
    short = short if len(short) <= 140 else short[:137] + "…"
    print(f"| {size:,} | `{short.replace('|', '/')}` |")
