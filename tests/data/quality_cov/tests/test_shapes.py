import pytest

from covpkg.shapes import area, describe, perimeter


@pytest.mark.parametrize(("kind", "expected"), [("square", 4), ("triangle", 2)])
def test_area(kind, expected):
    assert area(kind, 2) == expected


def test_bad_shape():
    with pytest.raises(ValueError):
        area("hexagon", 1)


def test_perimeter():
    assert perimeter("square", 1) == 4


def test_describe():
    assert describe([1, 2]) == ["positive", "positive"]
