"""revati.devices: profiles.toml read through one module, checked against the declared fields."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from revati.devices import DEFAULT_PROFILE, FIELDS, get_profile, profile_keys, profile_names
from revati.devices.profiles import NATIVE_KEYS, PROFILES_FILE, parse_profiles
from revati.errors import RevatiError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


def _raw() -> dict:
    with PROFILES_FILE.open("rb") as f:
        return tomllib.load(f)


def test_profiles_and_aliases() -> None:
    """The three shipped profiles load; keys and aliases resolve case-insensitively."""
    assert profile_keys() == ["H100-SXM-80GB", "H200-SXM-141GB", "A100-SXM4-80GB"]
    assert get_profile("h100").key == get_profile("H100-sxm-80gb").key == DEFAULT_PROFILE
    assert get_profile("a100").cc_major == 8 and get_profile("h200").mem_bw_gbs == 4800.0
    assert {"h100", "h200", "a100"} <= set(profile_names())


def test_unknown_device_lists_the_choices() -> None:
    with pytest.raises(UnknownNameError, match="unknown device 'v100'; choose one of: A100"):
        get_profile("v100")


def test_every_profile_has_every_declared_key_with_its_type() -> None:
    """Doubles load as floats, integers as ints, strings fit their C buffers."""
    for key in profile_keys():
        p = get_profile(key)
        for f in FIELDS:
            if not f.in_profile:
                continue
            v = p.values[f.name]
            want = {"str": str, "int": int, "u64": int, "double": float}[f.ctype]
            assert type(v) is want, (key, f.name, v)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.pop("sm_count"), "lacks sm_count"),
        (lambda t: t.update(warp_size=32), "unknown key\\(s\\) warp_size"),
        (lambda t: t.update(sm_count="132"), "sm_count = '132' is not a valid int"),
        (lambda t: t.update(mem_bytes=-1), "mem_bytes = -1 is not a valid u64"),
        (lambda t: t.update(name="x" * 200), "is not a valid str"),
    ],
)
def test_bad_profiles_are_refused_in_one_line(edit, message) -> None:
    raw = _raw()
    edit(raw["H200-SXM-141GB"])
    with pytest.raises(RevatiError, match=message):
        parse_profiles(raw, Path("p.toml"))


def test_device_conf_has_every_key_once() -> None:
    """device.conf names each declared key once, with the launcher's profile and count."""
    text = get_profile("h200").device_conf(4)
    keys = [ln.split("=", 1)[0] for ln in text.splitlines() if not ln.startswith("#")]
    assert keys == [f.name for f in FIELDS]
    assert "profile=H200-SXM-141GB\n" in text and "count=4\n" in text
    assert set(NATIVE_KEYS) < set(keys)


def test_generated_c_matches_the_profiles() -> None:
    """The committed C header is what tools/gen_devconf.py writes now (CI also runs --check),
    and it carries the default profile's values."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_devconf", ROOT / "tools" / "gen_devconf.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.render()
    assert gen.OUT.read_text() == text, "stale: run python tools/gen_devconf.py"
    h100 = get_profile(DEFAULT_PROFILE)
    assert f"DBL(mem_bw_gbs, {h100.mem_bw_gbs!r})" in text
    assert f"U64(mem_bytes, {h100.mem_bytes}ULL)" in text
    for f in FIELDS:
        assert f"({f.name}, " in text


def test_synthetic_runs_take_the_profile(tmp_path: Path) -> None:
    """The synthetic run's device.conf is the default profile's, not a copy of its values."""
    from revati.trace import load_run
    from revati.trace.synthetic import make_serving_run

    make_serving_run(tmp_path / "run", ranks=2, requests=1, layers=1)
    conf = load_run(tmp_path / "run", cache=False).device_conf
    want = get_profile(DEFAULT_PROFILE).conf_values(2)
    assert conf == {k: str(v) for k, v in want.items()}
