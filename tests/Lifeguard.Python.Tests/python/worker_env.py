"""What a worker's environment holds, when it started and when its module was imported (in a fork server's template)."""

import os
import sys

SLOT_AT_IMPORT = os.environ.get("LIFEGUARD_TEST_SLOT")


def slot_at_import():
    return SLOT_AT_IMPORT


def env(name):
    return os.environ.get(name)


def prefix():
    return sys.prefix
