#!/usr/bin/env python3
"""Turn a Gradle Kotlin DSL script (.kts) into a .kt the plain Kotlin compiler accepts.

  wrap.py <script.gradle.kts> <out.kt> <Project|Settings> <imports.txt>

* Line N+offset of the output is line N of the script (offset = header lines, written to
  <out minus .kt>.offset); check.sh maps diagnostics back to the script's own line numbers.
* A top-level `plugins { ... }` block is blanked; the plugin ids it applies go to
  <out minus .kt>.plugins, one a line (check.sh checks they are Gradle's core plugins).
* Top-level `import` lines of the script are moved to the header.
* The body becomes `fun <Receiver>.script() { ... }`: top-level fun/val/class become locals.
"""
import re, sys

src, out, receiver, imports_file = sys.argv[1:5]
lines = open(src, encoding="utf-8").read().split("\n")
imports = [l.strip() for l in open(imports_file) if l.strip()]

def blank_block(start):
    """Blank lines[start:] up to the brace closing the first '{' on lines[start]; return text."""
    depth, removed, i = 0, [], start
    seen = False
    while i < len(lines):
        code = re.sub(r'"(\\.|[^"\\])*"', '""', lines[i]).split("//")[0]
        for ch in code:
            if ch == "{": depth += 1; seen = True
            elif ch == "}": depth -= 1
        removed.append(lines[i]); lines[i] = ""
        if seen and depth == 0:
            return "\n".join(removed)
        i += 1
    sys.exit(f"{src}: unbalanced braces in block at line {start + 1}")

def plugin_ids(block):
    """The ids a plugins block applies: `java-library`, id("org.x.y"), or a bare name (application)."""
    body = block[block.index("{") + 1:block.rindex("}")]
    ids = []
    for line in body.split("\n"):
        code = line.split("//")[0].strip()
        found = re.match(r"^`([\w.-]+)`$", code) or re.match(r'^id\s*\(\s*"([^"]+)"\s*\)', code) \
            or re.match(r"^([a-z][\w]*)$", code)
        if found:
            ids.append(found.group(1))
        elif code:
            sys.exit(f"{src}: a plugins line this check does not read: {code}")
    return ids

plugins = []
script_imports = []
for n, l in enumerate(lines):
    if re.match(r"^plugins\s*\{", l):
        plugins += plugin_ids(blank_block(n))
    elif re.match(r"^import\s", l):
        script_imports.append(l.strip()); lines[n] = ""
    elif re.match(r"^@file:", l):
        sys.exit(f"{src}:{n + 1}: file annotation, not handled")

# Header: one import a line, then the function head; <out>.offset holds its line count, so a
# diagnostic at line L of <out> is at line L - offset of the script (check.sh maps it back).
fq = {"Project": "org.gradle.api.Project", "Settings": "org.gradle.api.initialization.Settings"}[receiver]
header = imports + script_imports + [f"fun {fq}.script() {{"]
open(out, "w", encoding="utf-8").write("\n".join(header + lines) + "\n}\n")
open(out[:-3] + ".offset", "w").write(str(len(header)))
open(out[:-3] + ".plugins", "w").write("".join(p + "\n" for p in plugins))
