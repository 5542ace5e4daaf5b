"""What every part of the warehouse may import: settings, customer profiles, the serving
publish, integration health and the demo's summaries. It imports no command line."""
