"""Word lists for deterministic, human-looking names."""
FIRST = """Ada Alan Alice Amara Andrea Anil Anna Arjun Aya Ben Bianca Carlos Chen Chloe Dario Diego
Dmitri Elena Emil Emma Fatima Felix Grace Hana Hugo Ines Ivan Jana Javier Jin Joao Julia Kai Karim
Kenji Lara Leo Lina Lucas Maya Mei Mohammed Nadia Nikhil Nora Olga Omar Paula Pedro Priya Rafael
Rosa Sami Sara Sofia Tariq Tomas Uma Vera Wei Yara Yusuf Zoe""".split()
LAST = """Abe Adeyemi Alvarez Andersen Bauer Becker Brown Castro Chen Costa Das Dubois Eriksen Evans
Fischer Garcia Gomez Gupta Hansen Hoffmann Ito Jansen Kim Kowalski Kumar Larsen Lee Lopez Martin
Meyer Moreau Muller Nakamura Nguyen Novak Okafor Olsen Park Patel Perez Petrov Rossi Santos Sato
Schmidt Silva Singh Smith Suzuki Tanaka Torres Valdez Wagner Walker Wang Weber Wilson Yamamoto Zhang
Zimmermann""".split()
TEAM_WORDS = """atlas beacon comet delta ember falcon glacier harbor iris juniper kestrel lumen meteor
nova orbit pulsar quartz raven sierra tundra umbra vector willow xenon yonder zephyr""".split()
DOMAINS = """payments checkout identity search catalog billing ledger notifications messaging
analytics platform infra mobile web growth fraud risk shipping inventory pricing""".split()
SITES = ["Berlin", "Lisbon", "Toronto", "Bangalore", "Austin", "Singapore"]
LABELS = ["security", "tech-debt", "customer", "performance", "infra", "ux", "compliance", "feature"]
