"""Device profiles: the GPUs revati can stand in for."""

from revati.devices.profiles import DeviceProfile, get_profile, profile_names

__all__ = ["DeviceProfile", "get_profile", "profile_names"]
