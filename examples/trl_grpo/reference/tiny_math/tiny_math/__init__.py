"""tiny_math: four small functions."""


def add(a, b):
    return a + b


def square(x):
    return x * x


def is_even(n):
    return n % 2 == 0


def clamp(x, lo, hi):
    return min(max(x, lo), hi)
