"""A file name that is no module name."""


def hello(name):
    return "hello " + name
