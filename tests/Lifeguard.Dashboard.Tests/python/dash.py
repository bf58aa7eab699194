"""Functions the dashboard's tests call in real python3 workers."""
import os
import sys
import time


def pid():
    return os.getpid()


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def say(text):
    print(text)
    sys.stdout.flush()
    return len(text)


def square(x):
    return x * x
