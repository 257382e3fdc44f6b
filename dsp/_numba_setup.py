"""numba's set-up in a process that loads every kernel from numba's cache (two things it does not need there).

**Its runtime module (NRT) from a cache file.**  numba compiles a small LLVM
module of its own (the atomic reference counts ``NRT_incref``/``NRT_decref``
and a few helpers) the first time any kernel is compiled *or loaded from the
cache*: every ``hipflex analyze`` ran LLVM's optimiser and code generator
once, although every hipflex kernel comes from numba's cache.  That is only
~15 ms of CPU, but it maps ~20 MB of LLVM's machine code into the process
(peak resident memory of the whole process counts it: 1.26 M-row CSV 208 ->
189 MB).  numba has the means to avoid it and uses them for the kernels
themselves (a library serialised as object code plus the bitcode other
modules link against); here the runtime module goes the same way, into the
directory numba caches the dsp kernels in.  The cache file is keyed by
everything the object code depends on: numba's and llvmlite's versions, the
target (triple, CPU name and features, as numba keys its own caches), the
optimisation level and the text of the module itself.  Anything unexpected
(no writable cache directory, a damaged or foreign file) falls back to
numba's own compile, so the code is the same either way.

**No compiler registries for a cache load.**  Before loading a kernel from
the cache numba "refreshes" its target context: the first time, that imports
and registers the typing and lowering of everything numba can compile
(typed dicts and lists, random generators, ``np.linalg``, jitclass, ...):
~8 MB and ~0.08 s of CPU per process, none of it used to load object code.
Here a cache load sets up only the runtime the loaded code calls into; any
compile (a cache miss, a new signature) still refreshes the context first,
as numba's compiler always does, so compiling is unchanged.

**Array maths at the first compile.**  numba's array maths
(``numba.np.linalg`` and ``arraymath``, ~0.01 s of CPU, and ``arrayobj``, which
they import, ~0.04 s) is among those registries; it used to be imported with
``hipflex.dsp`` (to keep its BLAS probe from importing SciPy, see
:func:`load_array_math_without_scipy`), now when numba first refreshes its
target context, i.e. at the first compile, and never in a process that only
loads cached kernels.

**numba's own modules stay unimported for a cache load.**  A cached kernel
carries the environments (globals and constants) of the functions compiled
into it, numba's array implementations among them; unpickling one imports the
module whose globals it names: ``numba.np.arrayobj`` (~0.04 s of CPU) for any
kernel that allocates.  Only object-mode code reads an environment's globals
(hipflex compiles none); the constants nopython code uses are in the pickle.
A numba module that is not imported yet gets a stand-in dict (its name only),
filled from the real module when numba refreshes its context for a compile.

**numba's extensions looked up at the first compile, not at the first call.**
Every dispatcher looks for numba extensions among the installed packages'
entry points before its first call ("compilation chain init hook"), a cache
load included: ~0.06 s of CPU per process, most of it importing
``importlib.metadata``, which :mod:`hipflex.dsp._numba_import` imports lazily
for that reason.  numba also looks them up when it first refreshes its target
context, i.e. before anything is compiled; for hipflex's own dispatchers
(:func:`defer_extensions`) that lookup is the only one.  Their arguments are
arrays and numbers, whose numba types no extension changes.

**Each kernel's linking bitcode parsed when a compile needs it.**  numba's
cache holds a kernel's object code and the LLVM bitcode that later compiles
link in (inlining the kernel into a caller); loading parsed that bitcode at
once (~0.03 s of CPU for hipflex's kernels), only to list the symbols it
defines (numba looks a kernel's address up by name in that list).  Here the
list comes from the object code's ELF symbol table, and the bitcode is kept
unparsed until a compile asks for the module (linking) or for a symbol the
list does not have (then every kept bitcode is parsed and listed, as numba
would have, before the answer).  Anything but a 64-bit little-endian ELF
object goes numba's way.

**No LLVM lock events during a cache load.**  numba hooks llvmlite's lock so
that every call into LLVM broadcasts a start and an end event (for its compile
timers, which record nothing for a kernel loaded from the cache); loading 24
kernels makes ~4200 such calls (~0.01 s of CPU).  A load runs with the hook off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llvmlite
import llvmlite.binding as ll
import numba
import numpy as np
from llvmlite.binding import ffi
from numba.core import caching, codegen, config, cpu, environment
from numba.core.runtime import nrt, nrtdynmod

__all__ = ["cache_path", "defer_extensions", "elf_defined_symbols", "install", "load_array_math_without_scipy"]

_log = logging.getLogger(__name__)

_MAGIC = b"hipflex-nrt-1\n"
_numba_compile = nrtdynmod.compile_nrt_functions
_numba_load_overload = caching.Cache.load_overload
_numba_load_registries = cpu.CPUContext.load_additional_registries
_numba_rebuild_env = environment._rebuild_env
_numba_unserialize = codegen.CPUCodeLibrary.__dict__["_unserialize"]  # the classmethod itself
_numba_module_for_linking = codegen.CPUCodeLibrary._get_module_for_linking
_numba_is_symbol_defined = codegen.JitEngine.is_symbol_defined
#: Libraries loaded from the cache whose linking bitcode is not parsed yet (see the module docstring).
_unparsed: list[Any] = []
#: (module name, stand-in globals) of environments loaded before their module was imported.
_deferred_globals: list[tuple[str, dict[str, Any]]] = []


def _cache_dir() -> Path | None:
    """The directory numba caches this package's kernels in (or ``None`` when there is none)."""
    try:
        # Any function of the package gives numba's choice: in-tree __pycache__,
        # NUMBA_CACHE_DIR or the user-wide directory, whichever is writable.
        return Path(caching.CompileResultCacheImpl(_cache_dir).locator.get_cache_path())
    except Exception:  # numba without this internal, or no writable directory
        _log.debug("no cache directory for numba's runtime module", exc_info=True)
        return None


def _key(codegen: Any, ir_text: str) -> str:
    """Hex digest of everything the runtime module's object code depends on."""
    parts = (numba.__version__, llvmlite.__version__, codegen.magic_tuple(), getattr(config, "OPT", None))
    return hashlib.sha256(repr(parts).encode() + b"\n" + ir_text.encode()).hexdigest()


def cache_path(key: str) -> Path | None:
    """Where the runtime module keyed ``key`` (hex digest) is cached, or ``None`` when it cannot be."""
    directory = _cache_dir()
    if directory is None:
        return None
    return directory / f"numba_nrt-{key[:24]}.bin"


def _read(path: Path, key: str) -> tuple[bytes, bytes] | None:
    """Object code and linking bitcode from ``path`` if it holds the module keyed ``key``."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head = _MAGIC + key.encode() + b"\n"
    if not raw.startswith(head) or len(raw) < len(head) + 16:
        return None
    body = raw[len(head) :]
    n_obj = int.from_bytes(body[:8], "little")
    n_bc = int.from_bytes(body[8:16], "little")
    if 16 + n_obj + n_bc != len(body):
        return None
    return body[16 : 16 + n_obj], body[16 + n_obj :]


def _write(path: Path, key: str, obj: bytes, bitcode: bytes) -> None:
    """Write the module's object code and bitcode atomically (a concurrent reader sees all or nothing)."""
    head = _MAGIC + key.encode() + b"\n"
    data = head + len(obj).to_bytes(8, "little") + len(bitcode).to_bytes(8, "little") + obj + bitcode
    # A name of its own per writer ("x": never someone else's file), with the usual permissions.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        _log.debug("could not cache numba's runtime module in %s", path, exc_info=True)


def _compile_nrt_functions_cached(ctx: Any) -> Any:
    """Stand-in for ``nrtdynmod.compile_nrt_functions(ctx)``: the same library, from the cache if there."""
    ir_mod, library = nrtdynmod.create_nrt_module(ctx)
    codegen = ctx.codegen()
    key = _key(codegen, str(ir_mod))
    path = cache_path(key)
    if path is None:
        library.add_ir_module(ir_mod)
        library.finalize()
        return library
    cached = _read(path, key)
    if cached is not None:
        # numba's own way of loading a cached kernel library (object code, and the
        # bitcode that later compiles link in to inline NRT_incref and friends).
        return codegen.unserialize_library((library.name, "object", cached))
    library.enable_object_caching()
    library.add_ir_module(ir_mod)
    library.finalize()
    _, _, (obj, bitcode) = library.serialize_using_object_code()
    _write(path, key, obj, bitcode)
    return library


def _load_overload_without_refresh(self: Any, sig: Any, target_context: Any) -> Any:
    """Stand-in for ``numba.core.caching.Cache.load_overload``: the same load, without the registries.

    numba's version refreshes ``target_context`` (loads every compiler registry)
    and then loads; loaded object code needs only the runtime it calls.
    """
    nrt.rtsys.initialize(target_context)
    with _llvm_lock_events_off(), self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


@contextmanager
def _llvm_lock_events_off() -> Iterator[None]:
    """numba's LLVM lock hooks unregistered for the block (a cache load).

    Their events feed numba's compile timers, which ``Dispatcher.compile`` installs
    before it tries the cache: for a loaded kernel it records nothing (no
    compile metadata), and a compile that loads a callee meanwhile reports less
    LLVM lock time.  The caller holds numba's compiler lock, as does every
    compile, so no other compile sees the hooks missing; an LLVM call of another
    thread that straddles the switch at most unbalances a timer, which numba then
    skips (``TimingListener.done``).
    """
    hooks = [pair for pair in list(ffi.lib._lock._cblist) if getattr(pair[0], "__module__", "") == "numba.core.base"]
    for acquire, release in hooks:
        ffi.unregister_lock_callback(acquire, release)
    try:
        yield
    finally:
        for acquire, release in hooks:
            ffi.register_lock_callback(acquire, release)


def _probe_blas_by_name() -> None:
    """Stand-in for ``numba.np.linalg.ensure_blas`` while numba loads its array maths (see below)."""
    if importlib.util.find_spec("scipy") is None:
        raise ImportError("scipy is required for linear algebra")


def load_array_math_without_scipy() -> None:
    """Load numba's array maths without importing ``scipy.linalg``, which no hipflex kernel uses.

    ``numba.np.arraymath`` probes for BLAS when it is imported (at the first
    refresh of numba's target context, i.e. the first compile) by importing
    ``scipy.linalg.cython_blas``, i.e. all of ``scipy.linalg`` and, through
    SciPy's array API layer, ``numpy.f2py``: 0.35 s (``python -X importtime``).
    The probe only chooses how ``np.vdot`` is compiled; here it asks whether
    SciPy is installed without importing it.  The real ``ensure_blas`` stays in
    place for everything else (numba's ``np.linalg`` imports SciPy when a kernel
    uses it).
    """
    if "numba.np.arraymath" in sys.modules:
        return
    import numba.np.linalg as linalg

    real = linalg.ensure_blas
    linalg.ensure_blas = _probe_blas_by_name
    try:
        import numba.np.arraymath as arraymath
    finally:
        linalg.ensure_blas = real
    arraymath.ensure_blas = real


def _load_registries_array_math_first(self: Any) -> None:
    """Stand-in for ``numba.core.cpu.CPUContext.load_additional_registries`` (array maths as above)."""
    load_array_math_without_scipy()
    _numba_load_registries(self)
    # Before anything is compiled, the environments loaded earlier get their modules' globals.
    while _deferred_globals:
        modname, stand_in = _deferred_globals.pop()
        stand_in.update(vars(importlib.import_module(modname)))


def _rebuild_env_lazily(modname: str, consts: Any, env_name: str) -> Any:
    """Stand-in for ``numba.core.environment._rebuild_env`` (pickle's name for it): numba's modules not imported.

    numba's version imports ``modname`` for the environment's globals; for one
    of numba's own modules not imported yet the globals are a stand-in until
    the next refresh of the target context (see the module docstring).
    """
    env = environment.lookup_environment(env_name)
    if env is not None or not modname.startswith("numba.") or modname in sys.modules:
        return _numba_rebuild_env(modname, consts, env_name)
    stand_in: dict[str, Any] = {"__name__": modname}
    env = environment.Environment(stand_in)
    env.consts[:] = consts
    env.env_name = env_name
    environment.Environment._memo[env_name] = env
    _deferred_globals.append((modname, stand_in))
    return env


#: An ELF64 symbol table entry (little-endian).
_ELF_SYM = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]
)
_STT_OBJECT, _STT_FUNC = 1, 2


def elf_defined_symbols(obj: bytes) -> set[str] | None:
    """Names of the functions and data objects an ELF64 little-endian object defines (``None``: not one).

    LLVM's private globals get no symbol: they are the only names of a module's
    definitions that are missing here.
    """
    if len(obj) < 64 or obj[:6] != b"\x7fELF\x02\x01":
        return None
    shoff = int.from_bytes(obj[0x28:0x30], "little")
    shentsize = int.from_bytes(obj[0x3A:0x3C], "little")
    shnum = int.from_bytes(obj[0x3C:0x3E], "little")
    sections = []
    for i in range(shnum):
        h = obj[shoff + i * shentsize : shoff + (i + 1) * shentsize]
        if len(h) < 64:
            return None
        sections.append(
            (
                int.from_bytes(h[4:8], "little"),  # type
                int.from_bytes(h[0x18:0x20], "little"),  # offset
                int.from_bytes(h[0x20:0x28], "little"),  # size
                int.from_bytes(h[0x28:0x2C], "little"),  # link (the symbol names' section)
            )
        )
    tables = [sec for sec in sections if sec[0] == 2]  # SHT_SYMTAB
    if len(tables) != 1 or tables[0][3] >= len(sections):
        return None
    _, off, size, link = tables[0]
    _, str_off, str_size, _ = sections[link]
    if off + size > len(obj) or str_off + str_size > len(obj) or size % _ELF_SYM.itemsize:
        return None
    syms = np.frombuffer(obj, dtype=_ELF_SYM, count=size // _ELF_SYM.itemsize, offset=off)
    kind = syms["info"] & 0xF
    chosen = syms["name"][(syms["shndx"] != 0) & ((kind == _STT_OBJECT) | (kind == _STT_FUNC)) & (syms["name"] != 0)]
    names = obj[str_off : str_off + str_size]
    return {names[int(i) : names.index(b"\0", int(i))].decode() for i in chosen}


def _unserialize_lazily(cls: Any, codegen_: Any, state: Any) -> Any:
    """Stand-in for ``CPUCodeLibrary._unserialize``: object code loaded, its bitcode parsed later."""
    name, kind, data = state
    symbols = elf_defined_symbols(data[0]) if kind == "object" else None
    if symbols is None:
        return _numba_unserialize.__func__(cls, codegen_, state)
    object_code, shared_bitcode = data
    self = codegen_.create_library(name)
    self.enable_object_caching()
    self._set_compiled_object(object_code)
    self._hipflex_bitcode = shared_bitcode
    self._finalize_final_module()
    codegen_._engine._defined_symbols |= symbols
    _unparsed.append(self)
    return self


def _parse_bitcode(library: Any) -> None:
    """Parse a cache-loaded library's kept bitcode and list its symbols, as numba's load did."""
    bitcode = library.__dict__.pop("_hipflex_bitcode", None)
    if bitcode is not None:
        library._shared_module = ll.parse_bitcode(bitcode)
        library._codegen._engine._load_defined_symbols(library._shared_module)


def _module_for_linking_parsed(self: Any) -> Any:
    """Stand-in for ``CPUCodeLibrary._get_module_for_linking``: the kept bitcode parsed first."""
    _parse_bitcode(self)
    return _numba_module_for_linking(self)


def _is_symbol_defined_complete(self: Any, name: str) -> bool:
    """Stand-in for ``JitEngine.is_symbol_defined``: on a miss, every kept bitcode listed first."""
    if _numba_is_symbol_defined(self, name):
        return True
    if not _unparsed:
        return False
    while _unparsed:
        _parse_bitcode(_unparsed.pop())
    return bool(_numba_is_symbol_defined(self, name))


def _no_extension_lookup() -> None:
    """Stand-in for a dispatcher's ``_compilation_chain_init_hook`` (see :func:`defer_extensions`)."""


def defer_extensions(dispatcher: Any) -> Any:
    """``dispatcher``, looking for numba's extensions only when something is compiled (see the module docstring).

    numba's dispatcher calls ``self._compilation_chain_init_hook()`` at its first
    call, for extensions (``numba.core.entrypoints.init_all``); numba's target
    context calls the same ``init_all`` before anything is compiled.  Set on the
    instance: other packages' dispatchers keep numba's hook.
    """
    if callable(getattr(dispatcher, "_compilation_chain_init_hook", None)):
        dispatcher._compilation_chain_init_hook = _no_extension_lookup
    return dispatcher


def install() -> None:
    """Set numba up as above (idempotent; the runtime part has no effect once the runtime is set up)."""
    if nrtdynmod.compile_nrt_functions is _numba_compile:
        nrtdynmod.compile_nrt_functions = _compile_nrt_functions_cached
    if caching.Cache.load_overload is _numba_load_overload:
        caching.Cache.load_overload = _load_overload_without_refresh  # type: ignore[method-assign]
    if cpu.CPUContext.load_additional_registries is _numba_load_registries:
        cpu.CPUContext.load_additional_registries = _load_registries_array_math_first  # type: ignore[method-assign]
    if environment._rebuild_env is _numba_rebuild_env:
        environment._rebuild_env = _rebuild_env_lazily
    if codegen.CPUCodeLibrary.__dict__["_unserialize"] is _numba_unserialize:
        codegen.CPUCodeLibrary._unserialize = classmethod(_unserialize_lazily)  # type: ignore[method-assign,assignment]
        codegen.CPUCodeLibrary._get_module_for_linking = _module_for_linking_parsed  # type: ignore[method-assign]
        codegen.JitEngine.is_symbol_defined = _is_symbol_defined_complete  # type: ignore[method-assign]
