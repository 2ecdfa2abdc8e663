from shardpkg.shell import evaluate, run


def test_evaluate():
    assert evaluate("1 + 1") == 2


def test_run_true():
    assert run("true") == 0


def test_run_false():
    assert run("false") != 0
