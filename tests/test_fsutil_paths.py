"""The text path helpers `keep get` reads the project and the local vault through (fsutil.exists,
is_dir, plain, stem, resolve, is_within, names_matching_suffix; project._normal/_child) give
what the pathlib calls they stand for give."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets import fsutil, project

segments = st.text(alphabet="ab.", min_size=1, max_size=4)
paths = st.lists(st.one_of(segments, st.just(""), st.just(".")), max_size=5).map("/".join)


@given(text=st.one_of(paths, paths.map(lambda p: "/" + p), paths.map(lambda p: "//" + p)))
def test_plain_paths_are_spelled_as_pathlib_spells_them(text: str) -> None:
    if fsutil.plain(text):
        assert str(PurePosixPath(text)) == text


@given(name=st.text(alphabet="ab. ", min_size=1, max_size=6).filter(lambda n: n not in (".", "..")))
def test_stem_is_purepaths(name: str) -> None:
    assert fsutil.stem(name) == PurePosixPath(name).stem


@given(base=st.one_of(paths, paths.map(lambda p: "/" + p)).filter(bool),
       names=st.lists(st.text(alphabet="ab.", min_size=1, max_size=4).filter(lambda n: n not in (".", "..")),
                      min_size=1, max_size=3))
def test_project_child_paths_are_pathlibs(base: str, names: list[str]) -> None:
    assert project._child(project._normal(base), *names) == str(Path(base, *names))


@given(root=st.lists(segments, max_size=3).map(lambda parts: "/" + "/".join(parts)),
       tail=st.lists(segments, max_size=3).map("/".join))
def test_is_within_is_is_relative_to(root: str, tail: str) -> None:
    root = str(PurePosixPath(root))
    for path in (str(PurePosixPath(root, tail)), str(PurePosixPath("/" + tail)), root + "x"):
        assert fsutil.is_within(path, root) == PurePosixPath(path).is_relative_to(root), (path, root)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "link-dir").symlink_to(tmp_path / "dir")
    return tmp_path


CASES = ["dir", "file", "dangling", "loop", "link-dir", "missing", "file/under-a-file", "dir/../file", "dir/./",
         "link-dir/..", "nul\0name", "."]


@pytest.mark.parametrize("name", CASES)
def test_exists_and_is_dir_are_pathlibs(tree: Path, name: str) -> None:
    text = os.path.join(tree, name)
    assert fsutil.exists(text) == Path(text).exists()
    assert fsutil.is_dir(text) == Path(text).is_dir()


@pytest.mark.parametrize("name", [c for c in CASES if "\0" not in c])
def test_resolve_is_pathlibs(tree: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    for text in (os.path.join(tree, name), name):
        try:
            expected = str(Path(text).resolve())
        except RuntimeError:  # a symlink loop
            with pytest.raises(RuntimeError, match="Symlink loop"):
                fsutil.resolve(text)
            continue
        assert fsutil.resolve(text) == expected


@given(names=st.sets(st.sampled_from(["a.json", ".json", ".hidden.json", "b.JSON", "c.json.bak", "d.jsonx",
                                      "e.json", "f", "g.json~", "z.json", "ä.json"]), max_size=8),
       dirs=st.sets(st.sampled_from(["sub.json", "other"]), max_size=2))
def test_names_matching_suffix_is_sorted_glob(tmp_path_factory: pytest.TempPathFactory, names: set[str],
                                              dirs: set[str]) -> None:
    directory = tmp_path_factory.mktemp("vaults")
    for name in names:
        (directory / name).write_text("{}")
    for name in dirs:
        (directory / name).mkdir()
    expected = [path.name for path in sorted(directory.glob("*.json"))]
    assert fsutil.names_matching_suffix(str(directory), ".json") == expected
    assert fsutil.names_matching_suffix(str(directory / "missing"), ".json") == []
