"""Customer-tunable YAML profiles (efficiency, productivity, alignment, goals)."""
from core.profiles.base import (ProfileError, ProfileErrors, apply_profiles, load_all, load_yaml,  # noqa: F401
                               register_profile)
