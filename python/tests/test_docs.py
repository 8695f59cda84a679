"""Every public name has a docstring, at run time (from the Rust doc
comments) as in the stub."""

from __future__ import annotations

import inspect

import graphmailer
import graphmailer.testing


def public_members(cls: type) -> list[str]:
    return [name for name in vars(cls) if not name.startswith("_")]


def test_every_public_name_is_documented() -> None:
    undocumented = []
    for name in graphmailer.__all__:
        obj = getattr(graphmailer, name)
        if name.startswith("__") or isinstance(obj, (str, tuple)):
            continue
        if not (obj.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj):
            for member in public_members(obj):
                attribute = inspect.getattr_static(obj, member)
                doc = getattr(attribute, "__doc__", None)
                if isinstance(attribute, (str, int, float, type(None))):
                    continue
                if not (doc or "").strip():
                    undocumented.append(f"{name}.{member}")
    for name in graphmailer.testing.__all__:
        obj = getattr(graphmailer.testing, name)
        if not (obj.__doc__ or "").strip():
            undocumented.append(f"testing.{name}")
        for member in public_members(obj):
            if not (getattr(getattr(obj, member), "__doc__", None) or "").strip():
                undocumented.append(f"testing.{name}.{member}")
    assert undocumented == []
    assert graphmailer.__doc__ and graphmailer.testing.__doc__ and graphmailer.errors.__doc__


def test_the_package_is_typed() -> None:
    from importlib import resources

    files = resources.files("graphmailer")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_graphmailer.pyi").is_file()
    assert graphmailer.__version__.count(".") == 2


def test_the_readme_examples_are_python() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    blocks = [block.split("```", 1)[0] for block in readme.split("```python\n")[1:]]
    assert len(blocks) >= 6
    for i, block in enumerate(blocks):
        compile(block, f"README.md python block {i}", "exec")
    names = {name for name in graphmailer.__all__ if not name.startswith("_")}
    for used in ("Mailer", "Message", "Attachment", "ClientCertificate", "policy_script", "AccessDeniedError"):
        assert used in names and used in readme
