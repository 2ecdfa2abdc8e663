from covpkg import area


def test_circle():
    assert area("circle", 0) == 0


def test_square():
    assert area("square", 3) == 9
