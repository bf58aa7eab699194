"""Functions the hosting tests call in pooled Python workers."""
import os


def square(x):
    return x * x


def pid():
    return os.getpid()
