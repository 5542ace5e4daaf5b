"""What every part of the warehouse may import: settings, customer profiles, the serving
publish, integration health, the demo's summaries and the option checks shared by commands.
It imports no command line."""
