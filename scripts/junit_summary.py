"""Adds up the JUnit XML reports of the test tiers into one closing line: 'tests: N passed, N failed'."""

import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        continue
    for suite in root.iter("testsuite"):
        tests = int(suite.get("tests", 0))
        f = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        s = int(suite.get("skipped", 0))
        passed += tests - f - s
        failed += f
        skipped += s
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
