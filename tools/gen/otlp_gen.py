#!/usr/bin/env python3
"""Generate OTLP/JSON telemetry as the OTel Collector `file` exporter writes it
(one TracesData / LogsData / MetricsData object per line), with `sea.*`
attributes that tie it to a spec truth chain
(spec/telemetry-correlation.md §1–§2).

Two modes:

  demo   the small, hand-shaped world of fixtures/demo/otlp: three days of a
         commerce shop and a sign-in service against fixtures/demo/specs. Day
         one is healthy; day two is slow; day three adds errors, bypassed
         policy checks, a fan-out, a retry storm, an unexpected service, a
         regime contradiction and a flow name the specs no longer have
         (stale). Plus logs, metrics, rows that fail or are partial, and
         a few broken lines that must become dead letters.

           python3 tools/gen/otlp_gen.py demo --out fixtures/demo/otlp

  bench  a large world for `make bench`: --nodes flow nodes over several
         domains (a manifest is written beside the telemetry) and JSON-lines
         files rotated every --file-mb MiB until --mb MiB are written.

           python3 tools/gen/otlp_gen.py bench --out DIR --mb 512 --nodes 60

Deterministic: same arguments, same bytes. Standard library only.
"""
import argparse
import json
import os
import random
import sys

DAY_NS = 86_400 * 10**9


def day_ns(y, m, d):
    import calendar

    return calendar.timegm((y, m, d, 0, 0, 0)) * 10**9


def attr(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    if isinstance(v, float):
        return {"key": k, "value": {"doubleValue": v}}
    return {"key": k, "value": {"stringValue": v}}


def attrs(d):
    return [attr(k, v) for k, v in d.items() if v is not None]


class Ids:
    def __init__(self, rng):
        self.rng = rng

    def trace(self):
        return "%032x" % self.rng.getrandbits(128)

    def span(self):
        return "%016x" % self.rng.getrandbits(64)


def resource(service, extra=None):
    a = {"service.name": service, "service.version": "1.4.2", "deployment.environment.name": "prod"}
    if extra:
        a.update(extra)
    return {"attributes": attrs(a)}


SCOPE = {"name": "shop.instrumentation", "version": "0.9.0"}


def span(ids, trace, parent, name, start_ns, dur_ms, kind=1, error=False, a=None):
    s = {
        "traceId": trace,
        "spanId": ids.span(),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + int(dur_ms * 1_000_000)),
        "attributes": attrs(a or {}),
        "status": {"code": 2, "message": "upstream failed"} if error else {"code": 1},
    }
    if parent:
        s["parentSpanId"] = parent
    return s


def traces_line(by_service):
    """One export batch: spans grouped per service (resource)."""
    return {
        "resourceSpans": [
            {"resource": resource(svc), "scopeSpans": [{"scope": SCOPE, "spans": spans}]}
            for svc, spans in sorted(by_service.items())
        ]
    }


def sea(domain, concept, regime, flow=None, policy=None):
    return {
        "sea.domain": domain,
        "sea.concept": concept,
        "sea.regime_id": regime,
        "sea.flow": flow,
        "sea.policy": policy,
    }


# ---------------------------------------------------------------- demo world


def place_order_trace(ids, rng, t0, day, i):
    """A checkout: root, auth check, inventory, payment (day-shaped)."""
    trace = ids.trace()
    out = {}
    regime = "commerce-v3"
    if day == 2 and i % 3 == 0:
        regime = "commerce-v2"  # clients still on the old regime (REG-001)
    base = dict(sea("commerce", "Order", regime, flow="place_order"))
    slow = {0: 1.0, 1: 2.2, 2: 1.3}[day]  # day two: slow (PERF-001)
    root_ms = rng.uniform(110, 240) * slow
    root = span(ids, trace, None, "POST /orders/place_order", t0, root_ms, kind=2,
                a=dict(base, **{"http.route": "/orders/place_order", "http.request.method": "POST"}))
    out.setdefault("checkout", []).append(root)
    rid = root["spanId"]
    bypass = day == 2 and i % 5 == 0  # the auth check skipped (POL-001)
    if not bypass:
        out["checkout"].append(span(ids, trace, rid, "auth.check", t0 + 1_000_000, rng.uniform(2, 6),
                                    a=dict(base, **{"sea.policy": "auth_required"})))
    fan = 9 if (day == 2 and i == 7) else 1  # a fan-out (FAN-001)
    for k in range(fan):
        out.setdefault("inventory", []).append(
            span(ids, trace, rid, "inventory.reserve", t0 + (2 + k) * 1_000_000, rng.uniform(8, 30) * slow,
                 a=dict(base, **{"inventory.sku_count": 1 + k})))
    if day == 2 and i % 4 == 3:
        # Retry storms: three charges under one parent, one failing (CON-001).
        for k in range(3):
            out.setdefault("payments", []).append(
                span(ids, trace, rid, "payments.charge", t0 + (40 + k * 15) * 1_000_000, rng.uniform(20, 60),
                     kind=3, error=(k == 0), a=dict(base, **{"payment.attempt": k + 1})))
    else:
        err = day == 2 and i % 4 == 1  # day three: a payment provider failing (REL-001)
        out.setdefault("payments", []).append(
            span(ids, trace, rid, "payments.charge", t0 + 40 * 1_000_000, rng.uniform(40, 120) * slow,
                 kind=3, error=err, a=base))
    if day == 2 and i == 13:
        # A service the flow does not expect (FLOW-001).
        out.setdefault("legacy-billing", []).append(
            span(ids, trace, rid, "billing.mirror", t0 + 50 * 1_000_000, rng.uniform(5, 15), kind=4, a=base))
    return out


def refund_trace(ids, rng, t0):
    trace = ids.trace()
    base = sea("commerce", "Order", "commerce-v3", flow="refund")
    root = span(ids, trace, None, "POST /orders/refund", t0, rng.uniform(80, 200), kind=2,
                a=dict(base, **{"http.route": "/orders/refund"}))
    child = span(ids, trace, root["spanId"], "payments.refund", t0 + 2_000_000, rng.uniform(30, 90), kind=3, a=base)
    return {"payments": [root, child]}


def login_trace(ids, rng, t0, day, i):
    trace = ids.trace()
    flow = "login"
    if day == 2 and i % 3 == 0:
        flow = "login_v1"  # an old client naming a flow the specs dropped (stale)
    base = sea("identity", "Session", "identity-v1", flow=flow)
    root = span(ids, trace, None, "POST /login", t0, rng.uniform(40, 110), kind=2,
                a=dict(base, **{"http.route": "/login"}))
    mfa = span(ids, trace, root["spanId"], "mfa.verify", t0 + 3_000_000, rng.uniform(5, 20),
               a=dict(base, **{"sea.policy": "mfa"}))
    return {"auth": [root, mfa]}


def other_spans(ids, rng, t0):
    """Rows that are partial, unmatched or failed."""
    out = {}
    # Partial: no flow, no policy; a concept no node has (heuristic at best).
    trace = ids.trace()
    out["catalog"] = [span(ids, trace, None, "GET /products/{id}", t0, rng.uniform(5, 25), kind=2,
                           a=dict(sea("commerce", "Product", "commerce-v3"), **{"http.route": "/products/{id}"}))]
    # No spec at all for this domain: correlates with nothing (no-match row).
    trace = ids.trace()
    out["search"] = [span(ids, trace, None, "GET /search", t0 + 5_000_000, rng.uniform(10, 40), kind=2,
                          a=dict(sea("search", "Query", "search-v1", flow="full_text"), **{"http.route": "/search"}))]
    # Failed: no sea.regime_id.
    trace = ids.trace()
    out["recommendations"] = [span(ids, trace, None, "recommend", t0 + 9_000_000, rng.uniform(10, 30),
                                   a={"sea.domain": "commerce", "sea.concept": "Order"})]
    return out


def logs_line(ids, t0, day):
    recs = []
    for k in range(3 + day):
        recs.append({
            "timeUnixNano": str(t0 + k * 600 * 10**9),
            "severityNumber": 17 if day == 2 else 9,
            "severityText": "ERROR" if day == 2 else "INFO",
            "eventName": "payment.declined" if day == 2 else "",
            "body": {"stringValue": "payment attempt finished"},
            "traceId": ids.trace(),
            "spanId": ids.span(),
            "attributes": attrs(dict(sea("commerce", "Order", "commerce-v3", flow="place_order"),
                                     **{"payment.provider": "acme"})),
        })
    # A log without a time of its own: observedTimeUnixNano stands in.
    recs.append({
        "observedTimeUnixNano": str(t0 + 3_600 * 10**9),
        "severityText": "WARN",
        "body": {"stringValue": "token refresh slow"},
        "attributes": attrs(sea("identity", "Session", "identity-v1", policy="mfa")),
    })
    # Failed: no sea.domain.
    recs.append({
        "timeUnixNano": str(t0 + 7_200 * 10**9),
        "severityText": "INFO",
        "body": {"stringValue": "cache warm"},
        "attributes": attrs({"cache.name": "sessions"}),
    })
    return {"resourceLogs": [{"resource": resource("checkout"),
                              "scopeLogs": [{"scope": SCOPE, "logRecords": recs}]}]}


def metrics_line(t0, day):
    t = str(t0 + 23 * 3_600 * 10**9)
    start = str(t0)
    dp_attrs = attrs({"http.route": "/orders/place_order"})
    hist = {
        "name": "http.server.request.duration",
        "unit": "ms",
        "histogram": {
            "aggregationTemporality": 1,
            "dataPoints": [{
                "startTimeUnixNano": start, "timeUnixNano": t,
                "count": str(40), "sum": 6400.0 * (1 + 0.5 * day),
                "bucketCounts": ["10", "20", "8", "2"], "explicitBounds": [100.0, 200.0, 400.0],
                "attributes": dp_attrs,
            }],
        },
    }
    gauge = {
        "name": "queue.depth",
        "gauge": {"dataPoints": [{"timeUnixNano": t, "asInt": str(3 + day), "attributes": attrs({"queue": "orders"})}]},
    }
    counter = {
        "name": "orders.placed",
        "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                "dataPoints": [{"startTimeUnixNano": start, "timeUnixNano": t, "asInt": str(20 + day)}]},
    }
    # The resource carries sea.* for the commerce metrics (no flow/policy:
    # partial, correlated to the Order concept); the queue gauge comes from
    # a resource without them (failed).
    res_sea = resource("checkout", sea("commerce", "Order", "commerce-v3"))
    return {"resourceMetrics": [
        {"resource": res_sea, "scopeMetrics": [{"scope": SCOPE, "metrics": [hist, counter]}]},
        {"resource": resource("queue-worker"), "scopeMetrics": [{"scope": SCOPE, "metrics": [gauge]}]},
    ]}


def dump(f, obj):
    f.write(json.dumps(obj, separators=(",", ":"), sort_keys=True))
    f.write("\n")


def demo(out):
    rng = random.Random(20260501)
    ids = Ids(rng)
    os.makedirs(out, exist_ok=True)
    days = [day_ns(2026, 5, 1), day_ns(2026, 5, 2), day_ns(2026, 5, 3)]
    # The collector's active file holds days one and two; day three was
    # rotated out under the exporter's timestamped name.
    files = {
        "otel-export.json": [0, 1],
        "otel-export-2026-05-03T00-00-00.000.json": [2],
    }
    for name, ds in files.items():
        with open(os.path.join(out, name), "w") as f:
            for day in ds:
                t_day = days[day]
                for i in range(20):
                    t0 = t_day + (8 * 3600 + i * 1500) * 10**9
                    dump(f, traces_line(place_order_trace(ids, rng, t0, day, i)))
                for i in range(5):
                    dump(f, traces_line(refund_trace(ids, rng, t_day + (10 * 3600 + i * 900) * 10**9)))
                for i in range(9):
                    dump(f, traces_line(login_trace(ids, rng, t_day + (7 * 3600 + i * 700) * 10**9, day, i)))
                dump(f, traces_line(other_spans(ids, rng, t_day + 12 * 3600 * 10**9)))
                dump(f, logs_line(ids, t_day + 9 * 3600 * 10**9, day))
                dump(f, metrics_line(t_day, day))
            if ds == [2]:
                # Lines a broken exporter might write: each a dead letter.
                f.write('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"\n')  # json_syntax
                f.write('["not", "an", "object"]\n')  # not_an_object
                f.write('{"resource_spans":[{"scope_spans":[{"spans":[{"name":"snake"}]}]}]}\n')  # otlp_schema
                f.write('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==",'
                        '"spanId":"AAAAAAAAAAE=","name":"base64 ids"}]}]}]}\n')  # otlp_schema
                f.write("\n")  # blank: skipped


# --------------------------------------------------------------- bench world

DOMAINS = ["commerce", "identity", "search", "shipping", "billing", "catalog", "support", "analytics"]
VERBS = ["create", "update", "cancel", "list", "lookup", "sync", "export", "approve"]


def bench(out, mb, nodes, file_mb, seed):
    rng = random.Random(seed)
    ids = Ids(rng)
    os.makedirs(out, exist_ok=True)
    flows = []
    for n in range(nodes):
        dom = DOMAINS[n % len(DOMAINS)]
        flow = "%s_%s_%d" % (VERBS[n % len(VERBS)], dom, n)
        flows.append((dom, flow, ["svc-%s-%d" % (dom, k) for k in range(3)]))
    manifest = {"version": 1, "regime_id": "bench-v1", "nodes": [
        {"id": "ADR-001", "kind": "adr", "title": "Bench decisions"},
        {"id": "SDS-001", "kind": "sds", "title": "Bench design", "derives_from": ["ADR-001"]},
    ]}
    for dom, flow, services in flows:
        manifest["nodes"].append({
            "id": "SEA-FLOW-%s.%s" % (dom, flow), "kind": "flow", "domain": dom, "concept": "Thing",
            "flow": flow, "derives_from": ["SDS-001"],
            "expect": {"services": services, "latency_p95_ms": 250, "error_rate_max": 0.02,
                       "policies": ["auth_required"], "max_fanout": 8}})
    for dom in DOMAINS:
        manifest["nodes"].append({"id": "SDS-POL-%s.auth_required" % dom, "kind": "policy", "domain": dom,
                                  "policy": "auth_required", "derives_from": ["SDS-001"]})
    os.makedirs(os.path.join(out, "specs"), exist_ok=True)
    with open(os.path.join(out, "specs", "bench.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    tdir = os.path.join(out, "otlp")
    os.makedirs(tdir, exist_ok=True)
    limit = mb * 1024 * 1024
    written = 0
    t = day_ns(2026, 1, 1)
    part = 0
    f = None
    size = 0
    while written < limit:
        if f is None or size >= file_mb * 1024 * 1024:
            if f:
                f.close()
            stamp = "2026-01-%02dT00-00-00.%03d" % (1 + part // 1000 % 28, part % 1000)
            f = open(os.path.join(tdir, "otel-export-%s.json" % stamp), "w")
            part += 1
            size = 0
        # One export batch: 8 traces of 4–12 spans each, over 14 days.
        by_service = {}
        for _ in range(8):
            dom, flow, services = flows[rng.randrange(len(flows))]
            trace = ids.trace()
            t0 = t + rng.randrange(14 * 86_400) * 10**9
            base = sea(dom, "Thing", "bench-v1", flow=flow)
            root = span(ids, trace, None, "POST /%s/%s" % (dom, flow), t0, rng.uniform(20, 400), kind=2,
                        error=rng.random() < 0.01,
                        a=dict(base, **{"http.route": "/%s/%s" % (dom, flow), "http.request.method": "POST",
                                        "user_agent.original": "bench-client/1.0"}))
            by_service.setdefault(services[0], []).append(root)
            if rng.random() < 0.97:
                by_service[services[0]].append(span(ids, trace, root["spanId"], "auth.check", t0 + 10**6,
                                                    rng.uniform(1, 5), a=dict(base, **{"sea.policy": "auth_required"})))
            for k in range(rng.randrange(2, 10)):
                svc = services[1 + k % 2]
                by_service.setdefault(svc, []).append(
                    span(ids, trace, root["spanId"], "%s.step%d" % (flow, k % 3), t0 + (2 + k) * 10**6,
                         rng.uniform(1, 120), kind=3, error=rng.random() < 0.02,
                         a=dict(base, **{"db.system": "postgresql", "net.peer.name": "db-%d" % (k % 4)})))
        line = json.dumps(traces_line(by_service), separators=(",", ":")) + "\n"
        f.write(line)
        size += len(line)
        written += len(line)
    if f:
        f.close()
    print("wrote %d MiB in %d files, %d flow nodes" % (written >> 20, part, nodes), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--out", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--out", required=True)
    b.add_argument("--mb", type=int, default=512)
    b.add_argument("--nodes", type=int, default=60)
    b.add_argument("--file-mb", type=int, default=64)
    b.add_argument("--seed", type=int, default=55)
    a = ap.parse_args()
    if a.mode == "demo":
        demo(a.out)
    else:
        bench(a.out, a.mb, a.nodes, a.file_mb, a.seed)


if __name__ == "__main__":
    main()
