from hypothesis import given
from hypothesis import strategies as st

from quorumd import errors


def test_every_code_round_trips_to_its_class() -> None:
    codes = errors.registered_codes()
    assert codes[-101] is errors.NoNode
    assert codes[-110] is errors.NodeExists
    assert codes[-112] is errors.SessionExpired
    for code, cls in codes.items():
        err = errors.error_for_code(code)
        assert type(err) is cls
        assert err.code == code


def test_codes_are_unique() -> None:
    classes = errors.registered_codes().values()
    assert len({c.zk_name for c in classes}) == len(list(classes))


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_unknown_codes_become_system_errors(code: int) -> None:
    err = errors.error_for_code(code)
    if code in errors.registered_codes():
        assert err.code == code
    else:
        assert isinstance(err, errors.SystemError_)
        assert str(code) in str(err)
