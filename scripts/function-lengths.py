#!/usr/bin/python3
"""Lists the longest C++ function bodies under the given folders.

Usage: scripts/function-lengths.py [--max N] [--top K] DIR...
Prints the K longest functions (lines from the signature's opening brace to the
closing one, inclusive) as "LINES path:first-last name"; with --max N, exits 1
when any function is longer than N lines. A function is a brace block whose
head (the text since the previous ';', '{' or '}') ends in ')' plus optional
qualifiers and is not a control statement; lambdas and local classes count
inside their enclosing function. Comments, string and character literals are
ignored.
"""
import argparse
import os
import re
import sys

CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else)\s*(\(|$)")
QUALIFIERS = re.compile(r"\)\s*(const|noexcept|override|final|mutable|->\s*[\w:<>,\s*&]+|\s)*$")


def strip(text):
    """Comments, string and char literals blanked; newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = ")" + m.group(1) + '"'
            j = text.find(end, i)
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    stack, head, line = [], [], 1
    found = []
    for c in text:
        if c == "\n":
            line += 1
        if c == "{":
            h = " ".join("".join(head).split())
            is_fn = (not stack or not stack[-1][0]) and bool(QUALIFIERS.search(h)) and not CONTROL.search(
                h.split("(")[0][-12:] + "(") and not h.startswith(("namespace", "class", "struct", "enum", "union"))
            is_fn = is_fn and "=" not in h.split("(")[0]  # not an initializer or a lambda bound to a name
            name = re.findall(r"([~\w:]+)\s*\(", h)
            inside = bool(is_fn) or bool(stack and stack[-1][0])
            stack.append((inside, line, name[0] if (is_fn and name) else ""))
            head = []
        elif c == "}":
            if stack:
                inside, start, name = stack.pop()
                if name and (not stack or not stack[-1][0]):
                    found.append((line - start + 1, start, line, name))
            head = []
        elif c == ";":
            head = []
        else:
            head.append(c)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=0)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    rows = []
    for d in a.dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if f.endswith((".cpp", ".hpp", ".h")):
                    p = os.path.join(root, f)
                    rows += [(n, p, s, e, name) for n, s, e, name in functions(p)]
    rows.sort(reverse=True)
    for n, p, s, e, name in rows[: a.top]:
        print(f"{n:5d} {p}:{s}-{e} {name}")
    over = [r for r in rows if a.max and r[0] > a.max]
    if over:
        print(f"{len(over)} function(s) over {a.max} lines")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
