"""A JSON/dict workload for mtrace recording: build records, serialise, parse back, aggregate.
Python's own small-object allocator (pymalloc) serves requests up to 512 bytes from its arenas, so
the malloc trace shows the larger buffers: JSON text, list and dict tables, long strings."""
import json
import random

rng = random.Random(42)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
records = []
for i in range(6000):
    records.append({
        "id": i,
        "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 40))),
        "tags": [rng.choice(words) for _ in range(rng.randint(0, 60))],
        "score": rng.random(),
        "blob": "x" * rng.choice((16, 200, 700, 1500, 5000)),
    })
    if i % 500 == 499:
        text = json.dumps(records)
        back = json.loads(text)
        by_tag = {}
        for r in back:
            for t in r["tags"]:
                by_tag.setdefault(t, []).append(r["id"])
        del text, back, by_tag
        records = records[len(records) // 2:]
print(len(records))
