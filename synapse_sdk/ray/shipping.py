"""Shipping a run's code to a Ray cluster that has never seen it.

A run on a cluster joined by address needs, on every worker, the SDK itself, the package
of its action and the packages of its hook plugins. :func:`shipment_for` finds them
(editable installs included: a package ships from wherever it is imported from here) and
the third-party requirements their distributions declare, with theirs in turn.
:func:`prepare` asks a worker which of those it lacks, then joins the cluster again with
a runtime environment: the packages as ``py_modules``, and what the workers lack as
``pip`` (pinned to the versions installed here, as params and results travel pickled).
An empty task in that environment checks, before anything is journalled, that the
cluster can set it up; if it cannot, the run is refused with the list of what is missing.

Ray takes local code only when a job joins (``ray.init``), uploads each ``py_modules``
folder once per content (its address is a hash of the files), and keeps the ``pip``
environment it built for a list: a repeat run with unchanged code reuses both.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from synapse_sdk.errors import ExecutorError
from synapse_sdk.fanout.ray_cluster import connect, import_ray

__all__ = ["ShippedPackage", "Shipment", "prepare", "probe", "shipment_for"]

ray = import_ray()

ALREADY_THERE = frozenset({"ray"})
"""Requirements every Ray worker has: never shipped, never asked for."""

EXCLUDES = ["__pycache__", "*.pyc"]
"""Left out of the upload: compiled files change without the code changing."""


@dataclass(frozen=True)
class ShippedPackage:
    """One top-level package (or single-file module) sent to the workers."""

    name: str
    path: str
    distribution: str | None
    version: str | None
    editable: bool
    size: int


@dataclass
class Shipment:
    """What a run sends to the workers: packages, and the requirements they lack.

    Attributes:
        packages: the top-level packages shipped as ``py_modules``.
        requirements: every third-party requirement of the shipped distributions (theirs
            included), as ``name==version`` where it is installed here.
        missing: those the workers lack (filled by :func:`probe`), installed with ``pip``.
        can_install: whether the workers can build a ``pip`` environment (``virtualenv``).
    """

    packages: list[ShippedPackage] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    can_install: bool = True

    @property
    def size(self) -> int:
        return sum(package.size for package in self.packages)

    def runtime_env(self, env_vars: Mapping[str, str]) -> dict[str, Any]:
        """The run's Ray runtime environment: code, what the workers lack, variables."""
        env: dict[str, Any] = {
            "py_modules": [package.path for package in self.packages],
            "excludes": list(EXCLUDES),
        }
        if self.missing:
            env["pip"] = sorted(self.missing)
        if env_vars:
            env["env_vars"] = dict(env_vars)
        return env

    def to_dict(self) -> dict[str, Any]:
        return {
            "packages": [asdict(package) for package in self.packages],
            "size": self.size,
            "requirements": self.requirements,
            "missing": self.missing,
            "can_install": self.can_install,
        }


def _top_level(module: str) -> str:
    return module.partition(".")[0]


def _module_path(name: str) -> Path:
    """The folder of package ``name``, or the file of a single-file module."""
    try:
        spec = importlib.util.find_spec(name)
    except ValueError:  # a module without a spec (made at run time)
        spec = None
    if spec is None:
        raise ExecutorError(f"'{name}' cannot be found here, so it cannot be shipped")
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0]).resolve()
    if spec.origin and spec.origin.endswith(".py"):
        return Path(spec.origin).resolve()
    raise ExecutorError(
        f"'{name}' is not Python source (a compiled or built-in module), so it cannot be "
        "shipped to the Ray workers; install it there and pass --no-ship"
    )


def _editable_root(distribution: metadata.Distribution) -> Path | None:
    """The project folder of an editable install (``pip install -e``), if it is one."""
    try:
        text = distribution.read_text("direct_url.json")
        info = json.loads(text) if text else {}
    except (OSError, ValueError):
        return None
    if not info.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(info.get("url", ""))
    return Path(unquote(url.path)).resolve() if url.scheme == "file" else None


@dataclass
class _Installed:
    """What is installed here, read once per shipment (reading it costs about 0.5 s)."""

    by_module: Mapping[str, list[str]] = field(default_factory=metadata.packages_distributions)
    editable: list[tuple[Path, metadata.Distribution]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for distribution in metadata.distributions():
            root = _editable_root(distribution)
            if root is not None:
                self.editable.append((root, distribution))

    def distribution_of(self, module: str, path: Path) -> metadata.Distribution | None:
        """The installed distribution that provides ``module`` (found at ``path``)."""
        for name in self.by_module.get(module, []):
            return metadata.distribution(name)
        # The deepest project folder wins: a plugin's project may sit inside the SDK's.
        roots = [
            (len(root.parts), dist) for root, dist in self.editable if path.is_relative_to(root)
        ]
        return max(roots, key=lambda found: found[0])[1] if roots else None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, dirs, files in os.walk(path):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        total += sum((Path(folder) / name).stat().st_size for name in files)
    return total


def _requirements(
    distribution: metadata.Distribution, extras: Iterable[str] = ()
) -> list[Requirement]:
    """What ``distribution`` requires (with ``extras``), its markers evaluated here."""
    found = []
    for text in distribution.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in ("", *extras)):
            found.append(requirement)
    return found


def _installed_here(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _closure(roots: Iterable[metadata.Distribution], shipped: set[str]) -> list[str]:
    """Every requirement of ``roots``, theirs included: ``name==version`` when installed here."""
    pinned: dict[str, str] = {}
    queue = [
        Requirement(f"{root.metadata['Name']}=={root.version}")
        for root in roots
        if canonicalize_name(str(root.metadata["Name"])) not in shipped
    ]
    queue += [requirement for root in roots for requirement in _requirements(root)]
    while queue:
        requirement = queue.pop()
        key = canonicalize_name(requirement.name)
        if key in shipped or key in ALREADY_THERE or key in pinned:
            continue
        local = _installed_here(requirement.name)
        if local is None:
            pinned[key] = str(requirement)
            continue
        pinned[key] = f"{local.metadata['Name']}=={local.version}"
        queue.extend(_requirements(local, requirement.extras))
    return [pinned[key] for key in sorted(pinned)]


def _filesystem_distributions(
    protocols: Iterable[str], installed: _Installed
) -> list[metadata.Distribution]:
    """The installed distributions that implement these fsspec protocols (``s3``: s3fs)."""
    from fsspec.registry import known_implementations

    found = []
    for protocol in sorted(set(protocols)):
        implementation = known_implementations.get(protocol, {}).get("class", "")
        module = _top_level(implementation)
        if not module or module == "fsspec":
            continue
        for name in installed.by_module.get(module, []):
            found.append(metadata.distribution(name))
    return found


def shipment_for(modules: Iterable[str], protocols: Iterable[str] = ()) -> Shipment:
    """The packages of ``modules`` (plus the SDK) and every requirement they bring.

    ``modules`` are the modules the run imports on the workers: its action class's and its
    hook plugins'. ``protocols`` are the fsspec protocols its params' URLs use: their
    filesystem packages (``s3fs`` for ``s3``) are requirements too, as fsspec loads them
    only when a URL asks. Requirements that are shipped themselves, or that every Ray
    worker has (Ray), are left out.
    """
    # Classes of a script's __main__ travel by value (cloudpickle): nothing to ship.
    names = sorted({"synapse_sdk", *(_top_level(m) for m in modules if m != "__main__")})
    shipment = Shipment()
    installed = _Installed()
    distributions: dict[str, metadata.Distribution] = {}
    for name in names:
        path = _module_path(name)
        distribution = installed.distribution_of(name, path)
        dist_name: str | None = None
        if distribution is not None:
            dist_name = str(distribution.metadata["Name"])
            distributions[canonicalize_name(dist_name)] = distribution
        shipment.packages.append(
            ShippedPackage(
                name=name,
                path=str(path),
                distribution=dist_name,
                version=distribution.version if distribution is not None else None,
                editable=distribution is not None and _editable_root(distribution) is not None,
                size=_size(path),
            )
        )
    roots = [*distributions.values(), *_filesystem_distributions(protocols, installed)]
    shipment.requirements = _closure(roots, set(distributions))
    return shipment


def _missing(requirements: list[str], installed: Mapping[str, str | None]) -> list[str]:
    """The requirements a worker does not satisfy, given its installed versions."""
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        version = installed.get(requirement.name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing


def probe(shipment: Shipment, address: str) -> Shipment:
    """Ask a worker of the cluster at ``address`` what it lacks; fill ``missing``.

    The question is asked with no runtime environment (the cluster is joined plain for
    it), so that the answer is about the workers themselves.
    """

    # A nested function travels by value: a bare worker has no synapse_sdk to import.
    def installed(names: list[str]) -> tuple[dict[str, str | None], bool]:
        import importlib.metadata as worker_metadata
        import importlib.util as worker_util

        versions: dict[str, str | None] = {}
        for name in names:
            try:
                versions[name] = worker_metadata.version(name)
            except worker_metadata.PackageNotFoundError:
                versions[name] = None
        return versions, worker_util.find_spec("virtualenv") is not None

    connect(address, {})
    names = [Requirement(text).name for text in shipment.requirements]
    task = ray.remote(num_cpus=0, max_retries=0)(installed)
    versions, can_install = ray.get(task.remote(names))
    shipment.missing = _missing(shipment.requirements, versions)
    shipment.can_install = can_install
    return shipment


_prepared: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
"""What the workers lacked, by cluster and shipment, as this process last found it."""


def prepare(shipment: Shipment, address: str, env_vars: Mapping[str, str]) -> dict[str, Any]:
    """Join the cluster at ``address`` with the run's environment, checked to set up there.

    The question of what the workers lack is asked once per cluster and shipment in a
    process: later runs of the same code (a pipeline's actions, a test session) join
    with the environment found the first time.

    Raises:
        ExecutorError: the workers lack requirements and cannot install them, or setting
            the environment up failed; the message lists what is missing.
    """
    key = (address, tuple(p.path for p in shipment.packages), tuple(shipment.requirements))
    if key in _prepared:
        shipment.missing = list(_prepared[key])
        env = shipment.runtime_env(env_vars)
        connect(address, env)
        return env
    probe(shipment, address)
    if shipment.missing and not shipment.can_install:
        raise ExecutorError(
            "the Ray cluster's workers lack requirements of this run and cannot install "
            f"them (their Python has no virtualenv, which Ray's pip needs): "
            f"{', '.join(shipment.missing)}. Install those on every node (or install "
            "virtualenv there, e.g. with ray[default]), then run again"
        )
    env = shipment.runtime_env(env_vars)
    connect(address, env)

    def ready() -> bool:
        return True

    try:
        ray.get(ray.remote(num_cpus=0, max_retries=0)(ready).remote())
    except ray.exceptions.RuntimeEnvSetupError as exc:
        connect(address, {})  # leave the process joined without the broken environment
        if shipment.missing:
            why = (
                f"its workers lack {', '.join(shipment.missing)}, and installing them there "
                f"failed ({_pip_error(exc)}). Install them on every node, then run again"
            )
        else:
            why = f"{_pip_error(exc)}. Check the cluster's runtime environment agent's log"
        raise ExecutorError(
            f"the Ray cluster cannot set up this run's environment: {why}"
        ) from None
    _prepared[key] = list(shipment.missing)
    return env


def _pip_error(exc: BaseException) -> str:
    """pip's own ``ERROR:`` lines from a failed environment setup, else its last line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return " ".join(errors) if errors else (lines[-1] if lines else type(exc).__name__)
