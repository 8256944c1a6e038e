import pytest


@pytest.fixture(scope="session")
def small_mock(tmp_path_factory):
    """A 150-galaxy mock (seed 3), generated once per session with one worker."""
    from galinfo.mock import MockConfig, generate

    out = tmp_path_factory.mktemp("mock") / "ds"
    generate(150, 3, out, workers=1, config=MockConfig(chunk_size=60))
    return out
