import math

import pytest

from core import schedules


def test_closed_forms_at_chosen_steps() -> None:
    assert schedules.constant(0.1)(57) == 0.1
    step = schedules.step_decay(1.0, step_size=3, gamma=0.5)
    assert [step(k) for k in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert schedules.exponential_decay(2.0, 0.9)(3) == pytest.approx(2.0 * 0.729)
    assert schedules.inverse_sqrt(1.0)(3) == 0.5
    cosine = schedules.cosine_decay(1.0, t_max=10, eta_min=0.1)
    assert cosine(0) == 1.0
    assert cosine(5) == pytest.approx(0.55)
    assert cosine(10) == pytest.approx(0.1)
    assert cosine(20) == pytest.approx(1.0)


def test_linear_warmup_rises_then_hands_over() -> None:
    warm = schedules.linear_warmup(schedules.exponential_decay(1.0, 0.5), 4, 0.0)
    assert [warm(k) for k in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    "build",
    [
        lambda: schedules.constant(0.0),
        lambda: schedules.step_decay(0.1, 0, 0.5),
        lambda: schedules.exponential_decay(0.1, -1.0),
        lambda: schedules.cosine_decay(0.1, 10, -0.5),
        lambda: schedules.linear_warmup(schedules.constant(0.1), 5, 1.5),
        lambda: schedules.constant(math.nan),
    ],
)
def test_builders_refuse_bad_arguments(build: object) -> None:
    with pytest.raises(ValueError, match="must"):
        build()  # type: ignore[operator]
