-- Productivity per team and calendar month (UTC): see int_productivity__team_periods
-- for how facts reach teams. Ratios divide by the period's active developers or PRs and
-- are null without a denominator; medians are null without merged PRs.
{{ productivity_team_metrics('month') }}
