-- DORA per service and UTC week (ISO week from Monday): one row per service of the
-- services file and period of the date spine. Formulas: macros/dora/dora_metrics.sql.
{{ dora_service_metrics('week') }}
