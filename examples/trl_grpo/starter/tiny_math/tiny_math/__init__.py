"""tiny_math: to be written."""


def add(a, b):
    raise NotImplementedError


def square(x):
    raise NotImplementedError


def is_even(n):
    raise NotImplementedError


def clamp(x, lo, hi):
    raise NotImplementedError
