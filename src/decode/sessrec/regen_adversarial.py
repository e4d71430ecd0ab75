#!/usr/bin/env python3
"""Regenerate adversarial.jsonl and adversarial.oracle.jsonl (tests.rs).

Run with the oracle venv: /root/.cache/driftlake/venv/bin/python regen_adversarial.py
It writes the shard (every bad-input case of issue 2, the 1 MiB line shrunk to
5000 bytes) and runs tools/oracle/behave_oracle.py's `shard` mode unchanged,
printing each sid's events as [f64 bits, ch, code points] (the stock JSON output
cannot tell a surrogate pair from two lone surrogates), sid as code points.
"""
import json, os, struct, subprocess, sys
HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE_DIR = os.path.join(HERE, "..", "..", "..", "tools", "oracle")

def oracle_codepoints(path):
    sys.path.insert(0, ORACLE_DIR)
    import behave_oracle as bo
    rows = []
    def bits(t): return struct.unpack("<Q", struct.pack("<d", t))[0]
    def run(sid, evs, ref):
        rows.append({"sid": [ord(c) for c in sid],
                     "events": [[bits(t), ch, [ord(c) for c in d]] for t, ch, d in evs]})
        return {}
    bo._run = run
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        bo.mode_shard(path)
    return rows
# Adversarial shard: every bad-input case of issue 2 and then some.
A = "5b0e2c6a-93d1-4f7e-8a2b-c4d5e6f70819"
B = "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f"
C = "00000000-0000-4000-8000-00000000000c"
def L(s): return s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
hdr = lambda sid, extra="": L('{"sid":"%s","hdr":{"version":2,"width":132,"height":43,"timestamp":1777680123,"env":{"SHELL":"/bin/bash","TERM":"xterm-256color"}}%s}' % (sid, extra))
ev = lambda sid, t, ch, d: L('{"sid":"%s","t":%s,"ch":"%s","d":"%s"}' % (sid, t, ch, d))
lines = [
    hdr(A), hdr(B),
    ev(A, "0.100000", "i", "u"),
    ev(B, "0.200000", "o", r"\r\n\u001b[?2004l\rLinux\r\n"),
    b'{"sid":"%s","t":0.3,"ch":"i","d":"\xff\xfe caf\xc3\xa9 \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80 \xc3"}' % A.encode(),
    b'{"sid":"%s","t":0.4,"ch":"i","d":"trunc' % A.encode(),          # truncated JSON
    b'{"sid":"%s","t":0.45,"ch":"i","d":"x"}}' % A.encode(),           # extra data
    b'["%s",1,"i","x"]' % A.encode(), b'"just a string"', b'42', b'null',  # non-objects
    ev(A, "NaN", "i", "n"), ev(A, "Infinity", "o", "inf"), ev(A, "-Infinity", "o", "ninf"),
    L('{"sid":"%s","t":true,"ch":"i","d":"T"}' % A), L('{"sid":"%s","t":false,"ch":"o","d":"F"}' % A),
    L('{"sid":"%s","t":"1.0","ch":"i","d":"strt"}' % A), L('{"sid":"%s","t":null,"ch":"i","d":"nt"}' % A),
    L('{"sid":"%s","t":1.0,"ch":"i","d":null}' % A), L('{"sid":"%s","t":1.0,"ch":"i","d":5}' % A),
    L('{"sid":"%s","t":1.0,"ch":"i"}' % A),  # missing d -> ""
    L('{"sid":"%s","t":1.1,"ch":"x","d":"q"}' % A), L('{"sid":"%s","t":1.1,"ch":"I","d":"q"}' % A),
    L('{"sid":"%s","t":1.1,"ch":null,"d":"q"}' % A), L('{"sid":"%s","t":1.1,"d":"q"}' % A), L('{"sid":"%s","ch":"i","d":"q"}' % A),
    L('{"sid":"%s","t":1.2,"ch":"r","d":"100x30"}' % B),
    ev(B, "1.3", "o", "x" * 5000),  # 1 MiB line (5000 B in the fixture)
    b'',                                                                 # blank
    b'   \t ',
    ev(A, "1.4", "i", "crlf") + b'\r',                                   # CRLF
    ev(B, "1.5", "i", "b1"), ev(A, "1.5", "i", "a1"), ev(B, "1.6", "o", "b2"),  # interleaved
    L('{"sid":"%s","t":1%s,"ch":"i","d":"bigint"}' % (B, "0" * 30)),
    L('{"sid":"%s","t":123456789012345678901234567890.5,"ch":"i","d":"bigf"}' % B),
    L('{"sid":"%s","t":-0.0,"ch":"i","d":"nz"}' % B), L('{"sid":"%s","t":-0,"ch":"i","d":"iz"}' % B),
    L('{"sid":"%s","t":1e3,"ch":"i","d":"e3"}' % B), L('{"sid":"%s","t":1.5E-3,"ch":"i","d":"e-3"}' % B),
    L('{"sid":"%s","t":2e308,"ch":"i","d":"ovf"}' % B), L('{"sid":"%s","t":1e-400,"ch":"i","d":"unf"}' % B),
    L('{"sid":"%s","t":2.4183070000000000000000001,"ch":"i","d":"round"}' % B),
    L('{"sid":"%s","t":0.1000000000000000055511151231257827,"ch":"i","d":"half"}' % B),
    L(r'{"sid":"%s","t":2,"ch":"o","d":"\ud83d\ude00 \ud800 \udc00 \ud800\u0041 \udbff\udfff"}' % B),
    b'{"sid":"%s","t":2.1,"ch":"o","d":"\\ud800\xed\xb0\x80"}' % B.encode(),
    b'\xef\xbb\xbf' + ev(A, "2.2", "i", "bom"),
    L('{"sid":"%s","t":2.3,"ch":"o","d":"first","d":"second","t":2.35}' % A),
    L('{"sid":"%s","t":2.4,"ch":"o","d":{"nested":[1,{"x":"y"}]}}' % A),
    L('{"sid":"%s","t":2.5,"ch":"o","d":"ok","extra":{"nested":[1,{"x":"y"}],"n":null}}' % A),
    L(' \t {"sid" : "%s" , "t" : 2.6 , "ch" : "i" , "d" : "ws" } \t \r' % A),
    L('\x0c{"sid":"%s","t":2.7,"ch":"i","d":"ff"}' % A),
    L('{"sid":"%s","t":2.8,"ch":"i","d":"a\tb"}' % A),                  # raw tab: invalid
    L('{"sid":"%s","t":2.9,"ch":"i","d":"a\x7fb"}' % A),                # raw DEL ok
    L(r'{"sid":"%s","t":3.0,"ch":"i","d":"\/\b\f\n\r\t\"\\\u00e9\u00E9\u0000"}' % A),
    L(r'{"sid":"%s","t":3.1,"ch":"i","d":"\x"}' % A),
    L('{"sid":"%s","t":3.2,"ch":"i","d":"dupsid","sid":"%s"}' % (A, B)),
    L('{"sid":"%s","sid":null,"t":3.3,"ch":"i","d":"nullsid"}' % A),
    L('{"sid":1,"t":3.4,"ch":"i","d":"intsid"}'), L('{"t":3.5,"ch":"i","d":"nosid"}'),
    L('{"sid":"","t":3.6,"ch":"i","d":"emptysid"}'),
    L('{"sid":"%s","hdr":null,"t":3.7,"ch":"i","d":"hdrnull"}' % A),
    hdr(A),  # duplicate header
    L('{"sid":"%s","t":3.8,"ch":"o","d":"tr","trunc":true}' % A),
    L('{"sid":"%s","trunc":true}' % B),
    L('{"sid":"%s","note":"unknown kind"}' % C),
    L('{"sid":"%s","t":4,"ch":"i","d":"after-header-less"}' % C),
    L('{"sid":"%s","x":%s,"t":4.1,"ch":"i","d":"deep-ok"}' % (C, "[" * 989 + "]" * 989)),
    L('{"sid":"%s","x":%s,"t":4.2,"ch":"i","d":"deep-bad"}' % (C, "[" * 1100 + "]" * 1100)),
    L('{"sid":"%s","x":%s,"t":4.3,"ch":"i","d":"int4300"}' % (C, "7" * 4300)),
    L('{"sid":"%s","x":%s,"t":4.4,"ch":"i","d":"int4301"}' % (C, "7" * 4301)),
    L('{"sid":"%s","t":01,"ch":"i","d":"lead0"}' % C), L('{"sid":"%s","t":1.,"ch":"i","d":"dot"}' % C),
    L('{"sid":"%s","t":+1,"ch":"i","d":"plus"}' % C), L('{"sid":"%s","t":-NaN,"ch":"i","d":"mnan"}' % C),
    L('{"sid":"%s","t":[1],"ch":"i","d":"arr"}' % C), L('{"sid":"%s","t":{},"ch":"i","d":"obj"}' % C),
    L('{"sid":"%s","t":5,"ch":"i","d":"%s"}' % (C, "\u00e9\u4e2d\U0001F600")),
    b'{"sid":"\xff%s","t":5.1,"ch":"i","d":"badsid"}' % C.encode()[1:],
    L('{"sid":"\\u0041\\u0042","t":5.2,"ch":"i","d":"escsid"}'),
    L('{"sid":"AB","t":5.3,"ch":"i","d":"escsid2"}'),
    b'{"sid":"%s","t":5.4,"ch":"i","d":"no newline at end"}' % C.encode(),
]

if __name__ == "__main__":
    shard = os.path.join(HERE, "adversarial.jsonl")
    open(shard, "wb").write(b"\n".join(lines))
    with open(os.path.join(HERE, "adversarial.oracle.jsonl"), "w") as f:
        for r in oracle_codepoints(shard):
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
