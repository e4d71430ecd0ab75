#!/usr/bin/env python3
"""The decode-and-aggregate half of the telemetry stage in DuckDB, for the
side-by-side figure of `make bench` (issue 5): read the OTLP JSON-lines
files with `read_json`, unnest resource → scope → spans, and group by
(sea.domain, sea.flow, day) with the span count, error count and p95
duration. Prints one line: wall seconds, MB/s, rows out.

  python tools/bench/duckdb_otlp.py DIR [--threads N]
"""
import argparse
import glob
import os
import time

import duckdb

SQL = """
WITH lines AS (
  SELECT unnest(resourceSpans) AS r
  FROM read_json(?, format = 'newline_delimited', maximum_object_size = 134217728)
), scopes AS (
  SELECT unnest(r.scopeSpans) AS s FROM lines
), spans AS (
  SELECT unnest(s.spans) AS p FROM scopes
), flat AS (
  SELECT
    list_filter(p.attributes, a -> a.key = 'sea.domain')[1].value.stringValue AS context,
    list_filter(p.attributes, a -> a.key = 'sea.flow')[1].value.stringValue AS flow,
    CAST(p.startTimeUnixNano AS UBIGINT) AS start_ns,
    (CAST(p.endTimeUnixNano AS UBIGINT) - CAST(p.startTimeUnixNano AS UBIGINT)) / 1e6 AS duration_ms,
    p.status.code AS status
  FROM spans
)
SELECT context, flow, CAST(to_timestamp(start_ns // 1000000000) AS DATE) AS day,
       count(*) AS spans, count(*) FILTER (WHERE status = 2) AS errors,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM flat GROUP BY ALL
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "*.json")))
    size = sum(os.path.getsize(f) for f in files)
    con = duckdb.connect()
    con.execute("SET threads = %d" % a.threads)
    t = time.perf_counter()
    rows = con.execute(SQL, [files]).fetchall()
    wall = time.perf_counter() - t
    print("duckdb threads=%d wall=%.2fs  %.1f MB/s total  %.1f MB/s per core  groups=%d"
          % (a.threads, wall, size / 1e6 / wall, size / 1e6 / wall / a.threads, len(rows)))


if __name__ == "__main__":
    main()
