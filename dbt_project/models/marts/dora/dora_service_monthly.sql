-- DORA per service and UTC month (calendar month): one row per service of the
-- services file and period of the date spine. Formulas: macros/dora/dora_metrics.sql.
{{ dora_service_metrics('month') }}
