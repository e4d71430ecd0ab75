#!/usr/bin/env python3
"""Registry conformance of a driftlake lake's `observations` table.

Every row is rebuilt as a BEHAVE envelope and validated with behave-shell
0.1.4's registry-aware `Observation` model (behave_shell.spec.Observation:
the behave-core envelope rules plus "primitive is in the registry and the
value fits its value spec"), as spec/lake.md §3 requires ("Every row must
validate against the behave-shell registry ... and the behave-core envelope
rules").

  validate_observations.py LAKE_DIR [--window epoch|offset|both] [--allow-empty]
  validate_observations.py --self-test

The envelope is built from the row: primitive, value (the JSON in the `value`
column), confidence, window (`window_start_ts`/`window_end_ts` epoch seconds,
and/or `offset_start_s`/`offset_end_s`, the reference's session-relative
times), source, evidence_ref, identity_ref, v, ts, id. Besides the model,
each row is checked against the lake contract where the model cannot see it:
`id` = first 32 hex of sha256(evidence_ref 0x1F primitive) (lake.md §2),
`value_kind` = the registry's kind, `value_str` = the value for string kinds.

Reads `<lake>/observations/**/*.parquet` with polars (or the Parquet files
directly under LAKE_DIR). Prints the number of rows validated; exits 1 with
one message per failing row.
"""
import argparse
import glob
import hashlib
import json
import math
import os
import sys
import tempfile


def _files(lake):
    pats = [os.path.join(lake, "observations", "**", "*.parquet"), os.path.join(lake, "**", "*.parquet")]
    for p in pats:
        fs = sorted(glob.glob(p, recursive=True))
        if fs:
            return fs
    return []


def _registry_kind(primitive):
    from behave_shell import spec
    try:
        entry = spec.get(primitive)
    except Exception:  # unknown primitive: the model reports it
        return None
    kind = entry.kind                     # a ValueTypeSpec; kind is a str enum
    return getattr(kind, "value", kind)


def _num(x):
    return None if x is None else float(x)


def validate_row(row, window):
    """Return a list of problems for one row (empty when it conforms)."""
    from behave_shell.spec import Observation
    problems = []
    try:
        value = json.loads(row["value"])
    except Exception as exc:
        return ["value column is not JSON (%s): %r" % (exc, row.get("value"))]
    base = {
        "primitive": row["primitive"],
        "value": value,
        "confidence": row["confidence"],
        "source": row["source"],
        "evidence_ref": row.get("evidence_ref"),
        "identity_ref": row.get("identity_ref"),
        "v": row.get("v", 1),
    }
    if row.get("ts") is not None:
        base["ts"] = float(row["ts"])
    if row.get("id") is not None:
        base["id"] = row["id"]
    windows = []
    if window in ("epoch", "both"):
        windows.append(("window_start_ts/window_end_ts", row.get("window_start_ts"), row.get("window_end_ts")))
    if window in ("offset", "both"):
        windows.append(("offset_start_s/offset_end_s", row.get("offset_start_s"), row.get("offset_end_s")))
    for name, a, b in windows:
        if a is None or b is None:
            problems.append("%s missing" % name)
            continue
        try:
            Observation(**base, window={"start_ts": _num(a), "end_ts": _num(b)})
        except Exception as exc:
            msg = " ".join(str(exc).split())
            problems.append("envelope invalid with %s window: %s" % (name, msg))
    # Lake-contract checks the model cannot make.
    if row.get("id") is not None and row.get("evidence_ref") is not None:
        want = hashlib.sha256((row["evidence_ref"] + "\x1f" + row["primitive"]).encode()).hexdigest()[:32]
        if row["id"] != want:
            problems.append("id %r is not sha256(evidence_ref 0x1F primitive)[:32] = %r" % (row["id"], want))
    if "value_kind" in row and row["value_kind"] is not None:
        kind = _registry_kind(row["primitive"])
        if kind is not None and row["value_kind"] != kind:
            problems.append("value_kind %r but the registry says %r" % (row["value_kind"], kind))
    if "value_str" in row and isinstance(value, str) and row["value_str"] != value:
        problems.append("value_str %r differs from value %r" % (row["value_str"], value))
    conf = row.get("confidence")
    if isinstance(conf, float) and math.isnan(conf):
        problems.append("confidence is NaN")
    return problems


def validate(lake, window="both", allow_empty=False, out=sys.stdout, err=sys.stderr):
    import polars as pl
    files = _files(lake)
    if not files and not allow_empty:
        print("no observations Parquet files under %s" % lake, file=err)
        return 1
    n = 0
    bad = 0
    for f in files:
        df = pl.read_parquet(f, hive_partitioning=False)
        for i, row in enumerate(df.iter_rows(named=True)):
            n += 1
            for p in validate_row(row, window):
                bad += 1
                print("%s row %d (%s %s): %s" % (f, i, row.get("evidence_ref"), row.get("primitive"), p), file=err)
    print("validated %d observations in %d files: %s" % (n, len(files), "ok" if not bad else "%d problems" % bad),
          file=out)
    return 1 if bad else 0


def self_test():
    """Write a tiny hand-made lake (good rows, then bad ones) and check both verdicts."""
    import io
    import polars as pl

    def row(prim, value, conf=0.75, start=1777680000.0, end=1777680044.75, **kw):
        ev = "shard:web-01/ssh/sessions-2026-05-02.jsonl#3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f"
        r = {"id": hashlib.sha256((ev + "\x1f" + prim).encode()).hexdigest()[:32], "primitive": prim,
             "value_kind": _registry_kind(prim), "value": json.dumps(value),
             "value_str": value if isinstance(value, str) else None, "value_num": None, "confidence": conf,
             "window_start_ts": start, "window_end_ts": end, "offset_start_s": 0.0, "offset_end_s": 44.75,
             "source": "decnet/profiler/behave_shell/extract.py", "evidence_ref": ev, "identity_ref": None,
             "v": 1, "ts": end, "decky": "web-01", "service": "ssh", "sid": ev.rsplit("#", 1)[1],
             "date": "2026-05-02", "run_id": "r1"}
        r.update(kw)
        return r

    good = [row("motor.input_modality", "typed"), row("motor.digraph_simhash", "320c9080377d5b92", 0.95),
            row("environmental.locale", "en-US", 0.8), row("temporal.session_duration", "short", 0.85)]
    bads = {
        "unknown label": row("motor.input_modality", "telepathic"),
        "unknown primitive": row("motor.no_such_thing", "x"),
        "confidence > 1": row("motor.paste_burst_rate", "none", 1.5),
        "window reversed": row("motor.paste_burst_rate", "none", start=10.0, end=5.0),
        "bad id": row("cognitive.tool_vocabulary", "narrow", id="0" * 32),
        "value_kind wrong": row("cognitive.tool_vocabulary", "narrow", value_kind="numeric"),
    }
    with tempfile.TemporaryDirectory() as d:
        part = os.path.join(d, "observations", "date=2026-05-02")
        os.makedirs(part)
        path = os.path.join(part, "part-0000000000000000.parquet")
        pl.DataFrame(good).write_parquet(path)
        o, e = io.StringIO(), io.StringIO()
        rc = validate(d, out=o, err=e)
        assert rc == 0 and "validated 4 observations" in o.getvalue(), (rc, o.getvalue(), e.getvalue())
        for name, r in bads.items():
            pl.DataFrame(good + [r]).write_parquet(path)
            o, e = io.StringIO(), io.StringIO()
            rc = validate(d, out=o, err=e)
            assert rc == 1 and "row 4" in e.getvalue(), (name, rc, e.getvalue())
        # no files at all
        os.remove(path)
        assert validate(d, out=io.StringIO(), err=io.StringIO()) == 1
        assert validate(d, allow_empty=True, out=io.StringIO(), err=io.StringIO()) == 0
    print("self-test ok: 4 good rows accepted; %d kinds of bad row rejected" % len(bads))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lake", nargs="?")
    ap.add_argument("--window", choices=["epoch", "offset", "both"], default="both")
    ap.add_argument("--allow-empty", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not a.lake:
        ap.error("LAKE_DIR is required")
    return validate(a.lake, a.window, a.allow_empty)


if __name__ == "__main__":
    sys.exit(main())
