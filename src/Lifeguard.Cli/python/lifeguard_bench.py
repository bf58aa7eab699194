"""Functions `lifeguard bench` times: a trivial call, and a CPU-bound one of about 2 ms."""


def square(x):
    return x * x


def burn(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
