from hypothesis import given
from hypothesis import strategies as st

from quorumd.machine.paths import _PLAIN, full_rules, path_error


@given(st.text(alphabet="/.ab \x01\x7f\u00e9\ud7ff\ue000", max_size=12))
def test_fast_path_accepts_only_what_the_full_rules_accept(path: str) -> None:
    if _PLAIN.fullmatch(path):
        assert full_rules(path) is None
    assert (path_error(path) is None) == (full_rules(path) is None)
