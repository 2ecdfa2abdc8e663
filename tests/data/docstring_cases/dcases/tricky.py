"""Definitions that docstring coverage must count the way interrogate does."""

import typing
from typing import overload


class Public:
    """Documented class."""

    def __init__(self):
        pass

    def __repr__(self):
        return "Public()"

    def method(self):
        """Documented method."""

    def undocumented_method(self):
        pass

    def _semi(self):
        pass

    def __private(self):
        pass

    @property
    def value(self):
        """A property."""
        return 1

    @value.setter
    def value(self, new):
        pass

    @value.deleter
    def value(self):
        pass

    class Nested:
        """Nested classes are not counted."""

        def inside_nested(self):
            pass

    async def async_method(self):
        pass


class _Hidden:
    def shown(self):
        pass


def outer():
    """Has a nested function."""

    def inner():
        pass

    class LocalClass:
        def local_method(self):
            pass

    return inner


async def async_outer():
    async def async_inner():
        pass

    def sync_inner():
        pass

    return async_inner, sync_inner


@overload
def over(x: int) -> int: ...
@overload
def over(x: str) -> str: ...
def over(x):
    """The implementation."""
    return x


@typing.overload
def over2(x: int) -> int: ...
def over2(x):
    return x


def empty_doc():
    """ """


def odd__():
    pass
