"""The sync's membership test of single addresses agrees with IPSet.contains."""

from hypothesis import given
from hypothesis import strategies as st

from integrations.services.sync import _Intervals
from lumeta_qualys.ipset import IPSet

VALUES = st.integers(min_value=0, max_value=300)


@given(st.lists(st.tuples(VALUES, VALUES), max_size=8), st.lists(VALUES, max_size=40))
def test_intervals_contain_what_ipset_contains(bounds, values):
    ips = IPSet.from_intervals(v4=[(min(a, b), max(a, b)) for a, b in bounds])
    intervals = _Intervals(ips.v4)

    for value in values:
        assert intervals.contains(value) == ips.contains(4, value), value
