"""Organisation sizes the simulator can generate."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SizeSpec:
    name: str
    developers: int          # engineers in leaf teams (managers and bots come on top)
    team_size: int           # engineers per leaf team
    divisions: int           # SEI organisations (GitHub orgs, Harness orgs)
    groups_per_division: int  # 0: leaf teams hang directly under their division
    history_days: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec("tiny", developers=10, team_size=3, divisions=1, groups_per_division=0, history_days=365),
    "small": SizeSpec("small", developers=50, team_size=8, divisions=2, groups_per_division=0, history_days=365),
    "medium": SizeSpec("medium", developers=500, team_size=8, divisions=4, groups_per_division=4, history_days=365),
    "large": SizeSpec("large", developers=5000, team_size=8, divisions=8, groups_per_division=8, history_days=730),
}

# Team practice profiles: every DORA band must occur, so leaf teams cycle through them.
# Durations are medians in hours (lognormal); rates are production deploys per working day.
PROFILES: dict[str, dict[str, float]] = {
    "elite": dict(prs_per_week=2.2, coding_h=2, pickup_h=0.75, review_h=1.5, deploys_per_day=3.0,
                  p_fail=0.02, p_rollback=0.01, p_incident=0.015, recovery_h=0.5),
    "high": dict(prs_per_week=1.6, coding_h=10, pickup_h=4, review_h=8, deploys_per_day=0.6,
                 p_fail=0.04, p_rollback=0.02, p_incident=0.04, recovery_h=6),
    "medium": dict(prs_per_week=1.3, coding_h=48, pickup_h=24, review_h=48, deploys_per_day=0.16,
                   p_fail=0.06, p_rollback=0.04, p_incident=0.08, recovery_h=60),
    "low": dict(prs_per_week=0.9, coding_h=120, pickup_h=72, review_h=120, deploys_per_day=0.035,
                p_fail=0.12, p_rollback=0.1, p_incident=0.18, recovery_h=300),
}
BANDS = list(PROFILES)
