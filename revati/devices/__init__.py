"""Device profiles: the GPUs revati can stand in for (the one place Python reads them from)."""

from revati.devices.profiles import (
    DEFAULT_PROFILE,
    FIELDS,
    DeviceProfile,
    ProfileField,
    default_profile,
    get_profile,
    profile_keys,
    profile_names,
    profiles,
)

__all__ = [
    "DEFAULT_PROFILE",
    "FIELDS",
    "DeviceProfile",
    "ProfileField",
    "default_profile",
    "get_profile",
    "profile_keys",
    "profile_names",
    "profiles",
]
