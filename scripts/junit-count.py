#!/usr/bin/env python3
"""Prints "PASSED FAILED" for the JUnit XML files given (pytest's --junitxml,
node's junit reporter). Every <testcase> counts once: failed when it holds a
<failure> or <error>, not counted when <skipped> (skips and todos), passed
otherwise. A missing or unreadable file counts one failure: the runner died
before it wrote its results."""

import sys
import xml.etree.ElementTree as ET

passed = failed = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        print(f"junit-count: {path}: {error}", file=sys.stderr)
        failed += 1
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
print(passed, failed)
