"""Unit tests of the fork server's failed answer (lifeguard._forkserver): typed, and cut to fit a control line.

The runtime is imported as in test_protocol.py. Standard library only.
"""

import json
import os
import sys
import unittest

_RUNTIME = os.environ.get("LIFEGUARD_RUNTIME_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "Lifeguard.Python", "runtime"
)
sys.path.insert(0, os.path.abspath(_RUNTIME))

from lifeguard import _forkserver as f  # noqa: E402

HOST_LINE = 64 * 1024  # the longest control line the host reads


class CustomError(Exception):
    pass


def raised(error):
    try:
        raise error
    except BaseException as caught:  # noqa: B036 - the test wants the raised exception with its traceback
        return caught


class ErrorReportTest(unittest.TestCase):
    def test_names_the_type_qualified_outside_builtins_with_message_and_traceback(self):
        report = f._error_report(raised(SyntaxError("invalid syntax")))
        self.assertEqual("SyntaxError", report["type"])
        self.assertEqual("invalid syntax", report["message"])
        self.assertIn("SyntaxError: invalid syntax", report["error"])

        custom = f._error_report(raised(CustomError("boom")))
        self.assertEqual(__name__ + ".CustomError", custom["type"])

    def test_a_huge_message_is_cut_so_that_the_line_fits_the_host(self):
        report = f._error_report(raised(ValueError("\x01" * 100000)))
        line = json.dumps(report, separators=(",", ":"))
        self.assertLess(len(line.encode("utf-8")) + 1, HOST_LINE)
        self.assertTrue(report["message"].endswith("..."))
        self.assertTrue(report["error"].startswith("...\n"))


if __name__ == "__main__":
    unittest.main()
