"""tests/cli/clitest.py — what the scripts of tests/cli share: running a test
module's unittest cases against the binary named by CJ_BIN, with a one-line
summary at the end (the scripts import it from their own folder)."""

import os
import sys
import unittest


def main(name, module):
    """Run every test case of module; 0 if all passed, else 1."""
    bin_path = os.environ.get("CJ_BIN", "")
    if not bin_path or not os.access(bin_path, os.X_OK):
        print(f"CJ_BIN does not name an executable: {bin_path!r}", file=sys.stderr)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    bad = len(result.failures) + len(result.errors)
    print(f"{name}: {result.testsRun} tests, {result.testsRun - bad - len(result.skipped)} "
          f"passed, {len(result.failures)} failed, {len(result.errors)} errors, "
          f"{len(result.skipped)} skipped")
    return 0 if result.wasSuccessful() else 1
