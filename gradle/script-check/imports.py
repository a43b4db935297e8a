#!/usr/bin/env python3
"""Gradle's implicit imports for a Kotlin build script, from the API jar's file list on stdin.

Every public API package (org.gradle.api and its siblings, never an `internal` one) is imported
whole, with the few imports the Kotlin DSL adds. Gradle imports each simple name from one package
only, so a name that two packages hold is also imported by name: from under org.gradle.api if it
can be, else the first package in order. Prints one import a line.
"""
import collections
import re
import sys

PUBLIC = re.compile(
    r"^org/gradle(/(api|authentication|build|buildconfiguration|buildinit|caching|concurrent|"
    r"deployment|external/javadoc|ide|ivy|jvm|language|maven|model|nativeplatform|normalization|"
    r"platform|plugin/devel|plugins|process|swiftpm|testfixtures|testing|testkit|tooling|util|vcs|"
    r"work|workers)(/.*)?|/plugin/(use|management))?$")
KOTLIN_DSL = ["org.gradle.kotlin.dsl.*", "java.util.concurrent.Callable", "java.util.concurrent.TimeUnit",
              "java.math.BigDecimal", "java.math.BigInteger", "java.io.File", "javax.inject.Inject"]

classes = collections.defaultdict(list)  # simple name -> packages
packages = set()
for entry in sys.stdin.read().split():
    if not entry.endswith(".class"):
        continue
    folder, _, name = entry[:-len(".class")].rpartition("/")
    if not PUBLIC.match(folder) or re.search(r"(^|/)internal(/|$)", folder):
        continue
    package = folder.replace("/", ".")
    packages.add(package)
    if "$" not in name and "-" not in name:
        classes[name].append(package)

lines = [f"import {p}.*" for p in sorted(packages)] + [f"import {i}" for i in KOTLIN_DSL]
for name, found in sorted(classes.items()):
    if len(found) > 1:
        best = min(found, key=lambda p: (not p.startswith("org.gradle.api."), p))
        lines.append(f"import {best}.{name}")
print("\n".join(lines))
