"""The one atomic writer: a finished file or none, never a half-written one."""

import json

import pytest

from dmlstudy.io import atomic_path, atomic_write, write_json


def test_atomic_write_replaces_only_when_complete(tmp_path):
    out = tmp_path / "sub" / "f.txt"
    atomic_write(out, lambda p: p.write_text("one"))
    assert out.read_text() == "one"

    def broken(p):
        p.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(out, broken)
    assert out.read_text() == "one"  # the earlier result survives
    assert [f.name for f in out.parent.iterdir()] == ["f.txt"]  # no temporary left behind


def test_atomic_path_and_json(tmp_path):
    with atomic_path(tmp_path / "a.bin") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.bin.")
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.bin").read_bytes() == b"x"
    write_json(tmp_path / "m.json", {"k": 1.5})
    assert json.loads((tmp_path / "m.json").read_text()) == {"k": 1.5}
