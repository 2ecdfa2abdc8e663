"""Alert fingerprints against prometheus/common's published test vectors.

The vectors (label sets and expected 64-bit values) are copied as data from prometheus/common
``model/signature_test.go`` (TestLabelsToSignature, TestMetricToFingerprint and the
BenchmarkLabelToSignature*/BenchmarkMetricToFingerprint* expectations) at commit
d2417e2cbb82c4c81e4d28d55f354058169a9f08; the algorithm is ``model/fnv.go`` +
``LabelsToSignature`` in ``model/signature.go``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_fwmon.alerts.fingerprint import (
    OFFSET64,
    fingerprint,
    fnv1a64,
    label_set_string,
    labels_to_signature,
)

#: (labels, expected signature) from prometheus/common model/signature_test.go.
PROMETHEUS_VECTORS = [
    pytest.param({}, 14695981039346656037, id="empty"),
    pytest.param(
        {"name": "garland, briggs", "fear": "love is not enough"},
        5799056148416392346,
        id="garland-briggs",
    ),
    pytest.param({"first-label": "first-label-value"}, 5146282821936882169, id="single"),
    pytest.param(
        {"first-label": "first-label-value", "second-label": "second-label-value"},
        3195800080984914717,
        id="double",
    ),
    pytest.param(
        {
            "first-label": "first-label-value",
            "second-label": "second-label-value",
            "third-label": "third-label-value",
        },
        13843036195897128121,
        id="triple",
    ),
]


@pytest.mark.parametrize(("labels", "expected"), PROMETHEUS_VECTORS)
def test_signature_matches_prometheus_common(labels: dict[str, str], expected: int) -> None:
    assert labels_to_signature(labels) == expected
    assert fingerprint(labels) == f"{expected:016x}"


def test_fnv1a64_reference_values() -> None:
    # FNV-1a 64 of "" is the offset basis; of "a" the published value 0xaf63dc4c8601ec8c.
    assert fnv1a64(b"") == OFFSET64
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


def test_fingerprint_is_sixteen_hex_digits_even_with_leading_zeros() -> None:
    # Fingerprint.String() is %016x: search a label set whose value has a leading zero digit.
    for i in range(5000):
        value = labels_to_signature({"alertname": f"a{i}"})
        if value < 1 << 60:
            assert fingerprint({"alertname": f"a{i}"}) == f"{value:016x}"
            assert fingerprint({"alertname": f"a{i}"}).startswith("0")
            return
    raise AssertionError("no signature below 2**60 in 5000 tries")


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6))
def test_fingerprint_ignores_label_order(labels: dict[str, str]) -> None:
    reordered = dict(reversed(list(labels.items())))
    assert labels_to_signature(reordered) == labels_to_signature(labels)


def test_value_and_name_boundaries_are_separated() -> None:
    # The separator byte keeps {"ab": "c"} and {"a": "bc"} apart.
    assert labels_to_signature({"ab": "c"}) != labels_to_signature({"a": "bc"})


def test_label_set_string_is_go_labelset_string() -> None:
    assert label_set_string({}) == "{}"
    assert label_set_string({"repo": "demo", "branch": "main"}) == '{branch="main", repo="demo"}'
    assert label_set_string({"a": 'say "hi"\n'}) == '{a="say \\"hi\\"\\n"}'
