#!/usr/bin/env python3
"""Differential-test oracle: runs the unmodified reference (DECNET's
behave_shell extractor and attribution mergers, from PyPI) as a black box.

spec/behave-shell.md A25 makes full-output parity against such an oracle the
acceptance gate. Nothing here re-implements a rule; it only calls the
reference's public functions and prints JSON.

Modes (one JSON object per output line):
  shard FILE [PREFIX]   read a sessrec shard the way the reference handler does
                        (surrogateescape, spec §1.8) and extract every sid;
                        PREFIX gives evidence_ref = shard:PREFIX#sid
  events                stdin: {"sid","evidence_ref","events":[[t,"i"|"o",d],..]}
  context               like events, but prints the session context (debugging)
  attribution           stdin: {"value_kind": k|null, "series":[{"value","ts","confidence"}]}
"""
import json
import math
import os
import sys
import sysconfig
import types


def _stub_packages():
    # The decnet wheel's package __init__ files import the whole server
    # (docker, fastapi, ...). The extractor modules themselves are pure, so we
    # register bare package objects and import the leaf modules directly.
    sp = sysconfig.get_paths()["purelib"]
    for pkg in ("decnet", "decnet.profiler", "decnet.correlation", "decnet.util"):
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(sp, *pkg.split("."))]
        sys.modules.setdefault(pkg, m)


_stub_packages()
from decnet.profiler.behave_shell import extract as _extract  # noqa: E402
from decnet.profiler.behave_shell import _parse  # noqa: E402


def _obs_json(o):
    return {
        "primitive": o.primitive,
        "value": o.value,
        "confidence": o.confidence,
        "start_ts": o.window.start_ts,
        "end_ts": o.window.end_ts,
        "source": o.source,
        "evidence_ref": o.evidence_ref,
        "identity_ref": o.identity_ref,
        "v": o.v,
    }


def _run(sid, events, evidence_ref):
    try:
        obs = list(_extract.extract_session(events, sid=sid, evidence_ref=evidence_ref))
    except Exception as exc:  # A7 and anything else the reference raises
        return {"sid": sid, "events": len(events), "error": type(exc).__name__}
    return {"sid": sid, "events": len(events), "observations": [_obs_json(o) for o in obs]}


def _events_of(raw):
    # AsciinemaEvent is a plain (t, kind, data) tuple alias in the reference.
    return [(float(t), ch, d) for t, ch, d in raw]


def mode_shard(path, prefix=None):
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    order, lines_by_sid = [], {}
    for line in text.split("\n"):
        try:
            obj = json.loads(line)
        except Exception:
            continue
        if not isinstance(obj, dict) or "hdr" in obj:
            continue
        sid = obj.get("sid")
        if not isinstance(sid, str):
            continue
        if sid not in lines_by_sid:
            lines_by_sid[sid] = []
            order.append(sid)
        lines_by_sid[sid].append(line)
    for sid in order:
        evs = [e for e in (_parse.parse_shard_line(l) for l in lines_by_sid[sid]) if e is not None]
        ref = f"shard:{prefix}#{sid}" if prefix else None
        out = _run(sid, evs, ref)
        out["event_list"] = [[e[0], e[1], e[2]] for e in evs] if os.environ.get("ORACLE_EVENTS") else None
        print(json.dumps(out))


def _ctx_json(ctx):
    d = {}
    for k in ("t_start", "t_end", "duration_s", "iats", "paste_event_count", "inter_cmd_iats",
              "output_per_cmd", "typing_bursts", "backspace_count", "backspace_iats",
              "kill_line_count", "intra_command_iats", "typed_letter_count", "obscenity_hits",
              "positive_lex_hits", "negative_lex_hits", "caps_run_max", "bang_run_max"):
        d[k] = getattr(ctx, k)
    d["inputs"] = len(ctx.input_events)
    d["outputs"] = len(ctx.output_events)
    d["commands"] = [
        {"start_ts": c.start_ts, "end_ts": c.end_ts, "hash": c.first_token_hash,
         "tabs": c.tab_count, "shortcuts": c.shortcut_count, "pipes": c.pipe_count,
         "errored": c.errored, "output_bytes": c.output_bytes, "prompt": c.followed_by_prompt}
        for c in ctx.commands]
    d["prompt_lines"] = [{"suffix": p.suffix_char, "raw_line": p.raw_line} for p in ctx.prompt_lines]
    d["unigram"] = dict(ctx.typed_unigram_counts)
    d["bigram"] = list(ctx.typed_bigram_counts.items())
    return d


def mode_events(context=False):
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        evs = _events_of(req["events"])
        if context:
            try:
                ctx = _extract.build_context(evs, sid=req["sid"], evidence_ref=req.get("evidence_ref"))
                print(json.dumps({"sid": req["sid"], "context": _ctx_json(ctx)}))
            except Exception as exc:
                print(json.dumps({"sid": req["sid"], "error": type(exc).__name__}))
        else:
            print(json.dumps(_run(req["sid"], evs, req.get("evidence_ref"))))
        sys.stdout.flush()


def mode_attribution():
    from decnet.correlation.attribution import aggregate
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            st = aggregate.aggregate_observations(req["series"], value_kind=req.get("value_kind"))
            print(json.dumps({"state": st.state, "current_value": st.current_value,
                              "confidence": st.confidence,
                              "observation_count": st.observation_count,
                              "last_observation_ts": st.last_observation_ts}))
        except Exception as exc:
            print(json.dumps({"error": type(exc).__name__}))
        sys.stdout.flush()


def main(argv):
    if not argv:
        sys.exit(__doc__)
    mode = argv[0]
    if mode == "shard":
        mode_shard(argv[1], argv[2] if len(argv) > 2 else None)
    elif mode == "events":
        mode_events()
    elif mode == "context":
        mode_events(context=True)
    elif mode == "attribution":
        mode_attribution()
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
