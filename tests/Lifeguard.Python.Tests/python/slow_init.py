import time

READY = False


def init():
    global READY
    READY = True


def ready():
    return READY
