#!/usr/bin/env python3
"""Write agent telemetry: the demo fixtures, or a large benchmark file.

    python3 tools/gen/agents_gen.py demo  OUT_DIR      # fixtures/demo/agents
    python3 tools/gen/agents_gen.py bench OUT_FILE N   # N events of JSON lines

Deterministic: a fixed seed, so the same call writes the same bytes.
Events follow spec/agent-monitor.md "Input":
{"type": ..., "source": ..., "timestamp": ..., "data": {...}}.
"""
import json
import random
import sys

T0 = 1777716000  # 2026-05-02T10:00:00Z


def iso(t):
    import datetime as dt
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ev(ty, agent, t, data, iso_ts=False):
    return {"type": ty, "source": agent, "timestamp": iso(t) if iso_ts else t, "data": data}


def dump(path, events, extra_lines=()):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
        for line in extra_lines:
            f.write(line + "\n")


def demo(out):
    import os
    rnd = random.Random(3)
    # Tier 1: a quiet agent reading its own config now and then, across
    # three windows; RFC 3339 timestamps; two bad lines for the dlq.
    quiet = [ev("file_read", "agent-quiet", T0 + 40 * k, {"path": "/etc/agent/config.yaml"}, True)
             for k in range(12)]
    quiet.insert(5, ev("heartbeat", "agent-quiet", T0 + 205, {}, True))
    os.makedirs(f"{out}/quiet", exist_ok=True)
    dump(f"{out}/quiet/agent-quiet.jsonl", quiet, extra_lines=[
        '{"type":"file_read","source":"agent-quiet","timestamp":"1777716600"}',
        '{"type":"file_read","source":"agent-quiet","timestamp":',
    ])
    # Tier 1 then 2: a busy file agent. A calm first window, then 160 file
    # operations over a skewed set of 24 files (F = 1, E about 0.9, no
    # network): 0.40 + 0.30 E lies between 0.50 and 0.70.
    busy = [ev("file_read", "agent-files", T0 + 10 + k, {"path": "/srv/app/index.html"}) for k in range(3)]
    files = [f"/srv/data/part-{i:02d}.csv" for i in range(24)]
    weights = [1 + (i % 4) for i in range(24)]
    for k in range(160):
        ty = rnd.choice(["file_read", "file_read", "file_write", "file_create"])
        path = rnd.choices(files, weights)[0]
        busy.append(ev(ty, "agent-files", T0 + 300 + k * 1.5, {"path": path}))
    os.makedirs(f"{out}/busy", exist_ok=True)
    dump(f"{out}/busy/agent-files.jsonl", busy)
    # Tier 3: file + network + diverse targets in one window.
    mixed = []
    for k in range(150):
        t = T0 + 600 + k
        if k % 2:
            mixed.append(ev(rnd.choice(["network_request", "api_call"]), "agent-mixed", t,
                            {"url": f"https://api-{rnd.randrange(40)}.example.net/v1/items"}))
        else:
            mixed.append(ev(rnd.choice(["file_read", "file_write", "file_delete"]), "agent-mixed", t,
                            {"path": f"/home/svc/.cache/{rnd.randrange(60)}.bin"}))
    os.makedirs(f"{out}/mixed", exist_ok=True)
    dump(f"{out}/mixed/agent-mixed.jsonl", mixed)
    # One event per .json file.
    with open(f"{out}/quiet/startup.json", "w", encoding="utf-8") as f:
        json.dump(ev("process_start", "agent-quiet", T0 - 30, {"host": "worker-3"}), f, indent=2)
        f.write("\n")


def bench(path, n):
    rnd = random.Random(11)
    agents = [f"agent-{i:03d}" for i in range(200)]
    types = ["file_read", "file_write", "file_create", "file_delete", "network_request",
             "network_response", "api_call", "process_start", "heartbeat"]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        t = T0
        for k in range(n):
            t += rnd.random() * 0.01
            ty = rnd.choice(types)
            if ty.startswith("file"):
                data = {"path": f"/srv/data/{rnd.randrange(500)}/part-{rnd.randrange(50)}.parquet",
                        "bytes": rnd.randrange(1 << 20)}
            elif ty in ("network_request", "network_response", "api_call"):
                data = {"url": f"https://svc-{rnd.randrange(80)}.internal/api/v2/items/{rnd.randrange(1000)}",
                        "status": 200}
            else:
                data = {"pid": rnd.randrange(1 << 16)}
            ts = round(t, 6) if k % 4 else iso(t)
            f.write(json.dumps({"type": ty, "source": rnd.choice(agents), "timestamp": ts, "data": data},
                               separators=(",", ":")) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "demo":
        demo(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "bench":
        bench(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
