#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Refuses a lambda with captures inside a co_await expression.

GCC 12 (Debian bookworm's compiler) destroys the captures of a lambda made
in a co_await expression twice. A capture that owns something (a
shared_ptr, a string) is then freed twice and the heap is corrupted: a
timing build of the HTTP server whose lambda captured shared_ptrs answered
404 to requests whose target had changed under them. Make the lambda in a
plain function that returns the awaitable (http_server.cpp, `answer`).
Tested by tests/lint/check_coroutines_test.sh.

Usage: check-coroutines.py [FILE...]  (default: every C++ file git knows)
"""
import re
import subprocess
import sys


def is_hex(c):
    return c.isdigit() or c in "abcdefABCDEF"


def strip_comments_and_strings(s):
    """Blanks comments and the insides of string and char literals, keeping
    offsets and newlines (raw strings are left alone: none hold co_await)."""
    out = list(s)
    i, n = 0, len(s)
    while i < n:
        if s.startswith("//", i):
            end = s.find("\n", i)
            end = n if end < 0 else end
        elif s.startswith("/*", i):
            end = s.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif s[i] == "'" and 0 < i < n - 1 and is_hex(s[i - 1]) and is_hex(s[i + 1]):
            i += 1  # a digit separator (30'000), not a char literal
            continue
        elif s[i] in "\"'":
            end = i + 1
            while end < n and s[end] != s[i]:
                end += 2 if s[end] == "\\" else 1
            i, end = i + 1, min(end, n)  # the quotes stay
        else:
            i += 1
            continue
        for k in range(i, end):
            if out[k] != "\n":
                out[k] = " "
        i = end + 1
    return "".join(out)


def co_await_expressions(text):
    """Yields (offset, expression) for each co_await, up to where it ends."""
    for m in re.finditer(r"\bco_await\b", text):
        depth, j = 0, m.end()
        while j < len(text):
            c = text[j]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c == ";" and depth == 0:
                break
            j += 1
        yield m.start(), text[m.start() : j]


CAPTURING_LAMBDA = re.compile(r"\[\s*[^\]\s][^\]]*\]\s*(\(|mutable\b|\{)")


def main(argv):
    files = argv[1:] or subprocess.run(
        ["git", "ls-files", "*.cpp", "*.hpp"], capture_output=True, text=True, check=True
    ).stdout.split()
    bad = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = strip_comments_and_strings(f.read())
        for at, expr in co_await_expressions(text):
            # `x[i]` subscripts have no `(` or `{` right after the bracket.
            if CAPTURING_LAMBDA.search(expr):
                line = text.count("\n", 0, at) + 1
                print(f"{path}:{line}: a lambda with captures inside a co_await expression "
                      "(GCC 12 destroys its captures twice); make it outside the co_await")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
