"""vaelab.claims: the ledger that every lesson's measured sentences are asserted through."""

import math

import pytest

from vaelab import claims


@pytest.fixture(autouse=True)
def empty_ledger():
    claims.reset()
    yield
    claims.reset()


def test_hold_records_and_fails_loudly():
    claims.hold("04.kl_rises", True, measured="KL 7.3 -> 22.6 nats")
    assert claims.ledger()["04.kl_rises"].held is True
    with pytest.raises(claims.ClaimFailed, match="04.kl_falls.*KL 22 -> 7"):
        claims.hold("04.kl_falls", False, measured="KL 22 -> 7")
    assert claims.ledger()["04.kl_falls"].held is False


@pytest.mark.parametrize(
    ("value", "bound", "sign", "held", "margin"),
    [(3.0, 1.0, +1, True, 2 / 3), (0.5, 1.0, +1, False, -0.5), (0.5, 2.0, -1, True, 0.75)],
)
def test_margins_are_the_distance_over_the_larger_magnitude(value, bound, sign, held, margin):
    check = claims.above if sign > 0 else claims.below
    if held:
        claim = check("07.cmp", value, bound, unit="dB")
    else:
        with pytest.raises(claims.ClaimFailed):
            check("07.cmp", value, bound, unit="dB")
        claim = claims.ledger()["07.cmp"]
    assert claim.held is held
    assert math.isclose(claim.margin, margin)
    assert "dB" in claim.measured


def test_nan_never_holds():
    with pytest.raises(claims.ClaimFailed):
        claims.above("07.nan", float("nan"), 0.0)


def test_full_only_claims_are_not_checked_by_a_fast_run(monkeypatch):
    monkeypatch.setenv("VAELAB_FAST", "1")
    claim = claims.hold("06.full", False, measured="x", full_only=True)
    assert claim.held is None and "not checked" in claim.measured
    monkeypatch.setenv("VAELAB_FAST", "0")
    with pytest.raises(claims.ClaimFailed):
        claims.hold("06.full", False, measured="x", full_only=True)


@pytest.mark.parametrize("bad", ["kl_rises", "4.kl", "04.KL", "04.kl rises", 4])
def test_ids_name_the_lesson(bad):
    with pytest.raises(ValueError, match="lesson number"):
        claims.hold(bad, True, measured="")


def test_report_lists_one_lessons_claims_with_the_book_data():
    claims.hold("04.a", True, measured="one")
    claims.above("05.b", 2.0, 1.0)
    report = claims.report(4)
    bundle = report._repr_mimebundle_()
    data = bundle[claims.MIME_TYPE]
    assert [c["id"] for c in data["claims"]] == ["04.a"]
    assert "04.a" in bundle["text/html"] and "05.b" not in bundle["text/plain"]


@pytest.mark.parametrize(
    ("measured", "unit"), [("$\\beta$ = 4: 7 units", ""), ("7.3 nats", "$\\mathrm{dB}$")]
)
def test_the_measured_text_is_plain_text_the_book_can_show(measured, unit):
    with pytest.raises(ValueError, match="plain text"):
        if unit:
            claims.above("07.psnr_gain", 1.2, 1.0, unit=unit)
        else:
            claims.hold("09.units", True, measured=measured)


def test_the_report_data_is_json_even_for_a_nan():
    import json

    with pytest.raises(claims.ClaimFailed):
        claims.above("07.nan", float("nan"), 0.0)
    data = claims.report(7)._repr_mimebundle_()[claims.MIME_TYPE]
    assert json.loads(json.dumps(data, allow_nan=False))["claims"][0]["margin"] is None


def test_the_comment_pattern_reads_the_id():
    text = "The KL rises.<!-- claim: 04.kl_rises --> Then <!--claim:04.b-->."
    assert [m.group("id") for m in claims.COMMENT.finditer(text)] == ["04.kl_rises", "04.b"]


def test_a_comparison_can_say_what_it_measured():
    claim = claims.below("00.grey", 0.157, 0.25, what="largest distance from 0.5")
    assert claim.measured == "largest distance from 0.5: 0.157 (must be below 0.25)"
    assert claims.above("07.gain", 1.4, 1.0, unit="dB").measured == "1.4 dB (must be above 1 dB)"
