"""The other scanners' public test suites, rebuilt byte by byte at test time.

Every fixture is written here from its recipe (nothing is downloaded, no fixture file is
committed). Each names the suite and the advisory or test it comes from. Payloads are harmless:
the ones that run something would only create the marker file they are given (`touch <marker>`
or `open(<marker>, 'w')`); the others call constructors with inert arguments (a connection to
127.0.0.1 that is never used, a path under the marker's folder).

    malicious  a loader (plain pickle, torch.load, np.load) would run the call: whyload must give
               an error-severity WL600 (or, where `flag` says so, another finding that stops it)
    benign     what real files hold: no security finding at all

Suites: picklescan (tests/init_data_files.py and test_scanner.py, GHSA advisories of
mmaitre314/picklescan), fickling (test/test_bypasses.py, GHSA advisories of trailofbits/fickling),
modelaudit (promptfoo/modelaudit's SUSPICIOUS_GLOBALS), JFrog and Sonatype (zip tricks reported
against picklescan: CVE-2025-1944, CVE-2025-1945, CVE-2025-10155, CVE-2025-10156,
CVE-2025-10157), Hide-and-Seek ("The Art of Hide and Seek: Making Pickle-Based Model Supply
Chain Poisoning Stealthy Again", 2025: loading paths and exception-oriented payloads), and the
differential wrappings (the same payloads inside a torch zip, a legacy torch file, a 7z, an .npy,
an .npz).

    python tests/security_fixtures.py OUT_DIR     # write every fixture (and a manifest.json)
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ---- a small pickle assembler ---------------------------------------------------------------


def enc(value: Any, proto: int) -> bytes:
    """One constant as opcodes: str, bytes, int, float, bool, None, tuple, list, dict."""
    if value is None:
        return b"N"
    if value is True or value is False:
        return (b"\x88" if value else b"\x89") if proto >= 2 else (b"I01\n" if value else b"I00\n")
    if isinstance(value, int):
        if proto >= 1 and -(1 << 31) <= value < 1 << 31:
            return b"J" + struct.pack("<i", value)
        return b"L" + str(value).encode() + b"L\n"
    if isinstance(value, float):
        if proto >= 1:
            return b"G" + struct.pack(">d", value)
        return b"F" + repr(value).encode() + b"\n"
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if proto >= 4 and len(raw) < 256:
            return b"\x8c" + bytes([len(raw)]) + raw
        if proto >= 1:
            return b"X" + struct.pack("<I", len(raw)) + raw
        return b"V" + value.encode("raw_unicode_escape") + b"\n"
    if isinstance(value, (bytes, bytearray)):
        if proto >= 3:
            return b"B" + struct.pack("<I", len(value)) + bytes(value)
        return (b"c_codecs\nencode\n(" + enc(bytes(value).decode("latin-1"), proto)
                + enc("latin1", proto) + b"tR")
    if isinstance(value, tuple):
        return b"(" + b"".join(enc(v, proto) for v in value) + b"t"
    if isinstance(value, list):
        return b"(" + b"".join(enc(v, proto) for v in value) + b"l"
    if isinstance(value, dict):
        return b"(" + b"".join(enc(k, proto) + enc(v, proto) for k, v in value.items()) + b"d"
    raise TypeError(type(value))


def glob(module: str, name: str, proto: int) -> bytes:
    """The callable: GLOBAL in protocols 0-3, STACK_GLOBAL (dotted names allowed) in 4-5."""
    if proto >= 4:
        return enc(module, proto) + enc(name, proto) + b"\x93"
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def head(proto: int) -> bytes:
    return b"\x80" + bytes([proto]) if proto >= 2 else b""


def call(module: str, name: str, *args: Any, proto: int = 4, state: Any = None) -> bytes:
    """A whole pickle: module.name(*args) by REDUCE, then STOP."""
    body = glob(module, name, proto) + enc(tuple(args), proto) + b"R"
    if state is not None:
        body += enc(state, proto) + b"b"
    return head(proto) + body + b"."


def touch(marker: Path) -> str:
    return f"touch {marker}"


def py_touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


# ---- the fixture record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    name: str
    suite: str
    source: str  # advisory id, test name or paper section
    build: Callable[[Path], bytes]  # marker -> the file's bytes
    ext: str = ".pkl"
    malicious: bool = True
    runs_under: str = "pickle"  # the loader that would execute it: pickle, torch, numpy, none
    live: bool = False  # proven to create the marker when its loader reads it (tests do so)
    flag: str = "error"  # what whyload must say: error (WL600), or "warning" (flagged, not clean)


FIXTURES: list[Fixture] = []


def _add(*fixtures: Fixture) -> None:
    FIXTURES.extend(fixtures)


def _calls(suite: str, rows: list[tuple[str, str, str, tuple[Any, ...]]], proto: int = 4,
           ext: str = ".pkl") -> None:
    """Rows of (source, module, qualified name, arguments): one REDUCE each."""
    for source, module, name, args in rows:
        slug = f"{suite}-{source}-{module}.{name}".replace("/", "-")
        _add(Fixture(slug, suite, source,
                     lambda m, mod=module, n=name, a=args: call(mod, n, *_resolve(a, m),
                                                                   proto=proto), ext))


def _resolve(args: tuple[Any, ...], marker: Path) -> tuple[Any, ...]:
    """Placeholders in a row's arguments: SHELL -> `touch marker`, PY -> python that creates
    it, PATH -> the marker's path."""
    table = {"SHELL": touch(marker), "PY": py_touch(marker), "PATH": str(marker)}
    out: list[Any] = []
    for a in args:
        if isinstance(a, str) and a in table:
            out.append(table[a])
        elif isinstance(a, list):
            out.append([table.get(x, x) if isinstance(x, str) else x for x in a])
        else:
            out.append(a)
    return tuple(out)


# ---- picklescan: tests/init_data_files.py, one fixture per advisory ---------------------------

PICKLESCAN = "picklescan"
_calls(PICKLESCAN, [
    ("malicious1", "builtins", "eval", ("PY",)),
    ("malicious2", "posix", "system", ("SHELL",)),
    ("malicious3", "httplib", "HTTPSConnection", ("127.0.0.1",)),
    ("malicious4", "requests.api", "get", ("http://127.0.0.1:9",)),
    ("malicious5", "aiohttp.client", "ClientSession", ()),
    ("malicious7", "socket", "create_connection", (("127.0.0.1", 9),)),
    ("malicious8", "subprocess", "run", (["touch", "PATH"],)),
    ("malicious9", "sys", "exit", (0,)),
    ("malicious13", "_pickle", "loads", (b"I12345\n.",)),
    ("malicious14", "runpy", "_run_code", ("PY", {})),
    ("malicious15", "bdb", "Bdb.run", ("PY",)),
    ("malicious16", "pip", "main", (["--version"],)),
    ("malicious17", "torch._inductor.codecache", "compile_file", ("", "", ["sh", "-c", "SHELL"])),
    ("malicious18", "pydoc", "pipepager", ("", "SHELL")),
    ("malicious19", "torch", "load", ("PATH",)),
    ("malicious20", "venv", "create", ("PATH",)),
    ("malicious21", "timeit", "timeit", ("", "PY")),
    ("malicious22", "numpy.testing._private.utils", "runstring", ("PY", {})),
    ("GHSA-4r9r-ch6f-vxmx", "torch.utils.bottleneck.__main__", "run_cprofile", ("PY", {})),
    ("GHSA-86cj-95qr-2p4f", "torch._dynamo.guards", "GuardBuilder.get", ("PY",)),
    ("GHSA-f4x7-rfwp-v3xw", "torch.fx.experimental.symbolic_shapes",
     "ShapeEnv.evaluate_guards_expression", ("PY", [])),
    ("GHSA-f745-w6jp-hpxx", "torch.utils.collect_env", "run", ("SHELL",)),
    ("GHSA-jhph-76pp-mggw", "torch.utils.collect_env", "run_and_read_all", (None, "SHELL")),
    ("GHSA-h3qp-7fh3-f8h4", "torch.utils.data.datapipes.utils.decoder", "basichandlers",
     ("pickle", b"I1\n.")),
    ("GHSA-vr7h-p6mm-wpmh", "torch.jit.unsupported_tensor_ops", "execWrapper", ("PY",)),
    ("GHSA-vv6j-3g6g-2pvj", "torch.utils._config_module", "ConfigModule.load_config",
     (None, b"I1\n.")),
    ("GHSA-5qwp-399c-mjwf", "trace", "Trace.run", ("PY",)),
    ("GHSA-g344-hcph-8vgg", "trace", "Trace.runctx", ("PY", {}, {})),
    ("GHSA-x696-vm39-cp64", "profile", "Profile.run", ("PY",)),
    ("GHSA-6vqj-c2q5-j97w", "profile", "Profile.runctx", ("PY", {}, {})),
    ("GHSA-f54q-57x4-jg88", "lib2to3.pgen2.grammar", "Grammar.loads", (b"I1\n.",)),
    ("GHSA-3vg9-h568-4w9m", "idlelib.debugobj", "ObjectTreeItem.SetText", (None, "PY")),
    ("GHSA-6w4w-5w54-rjvr", "idlelib.autocomplete", "AutoComplete.get_entity", (None, "PY")),
    ("GHSA-7cq8-mj8x-j263", "idlelib.autocomplete", "AutoComplete.fetch_completions",
     (None, "PY", 1)),
    ("GHSA-cj3c-v495-4xqh", "code", "InteractiveInterpreter.runcode", (None, "PY")),
    ("GHSA-8r4j-24qv-fmq9", "idlelib.calltip", "Calltip.fetch_tip", (None, "PY")),
    ("GHSA-9xph-j2h6-g47v", "idlelib.calltip", "get_entity", ("PY",)),
    ("GHSA-4whj-rm5r-c2v8", "torch.utils.bottleneck.__main__", "run_autograd_prof",
     ("PY", {})),
    ("GHSA-xp4f-hrf8-rxw7", "ensurepip", "_run_pip", (["--version"],)),
    ("GHSA-p9w7-82w4-7q8m", "lib2to3.pgen2.pgen", "ParserGenerator.make_label", (None, None,
                                                                                  "PY")),
    ("GHSA-m869-42cg-3xwr", "idlelib.run", "Executive.runcode", (None, "PY")),
    ("GHSA-j343-8v2j-ff7w", "idlelib.pyshell", "ModifiedInterpreter.runcommand", (None, "PY")),
    ("GHSA-3gf5-cxq9-w223", "idlelib.pyshell", "ModifiedInterpreter.runcode", (None, "PY")),
    ("GHSA-fqq6-7vqf-w3fg", "doctest", "debug_script", ("PY",)),
    ("GHSA-9w88-8rmg-7g2p", "cProfile", "runctx", ("PY", {}, {})),
    ("GHSA-49gj-c84q-6qm9", "cProfile", "run", ("PY",)),
    ("GHSA-7wx9-6375-f5wh", "profile", "run", ("PY",)),
    ("GHSA-q77w-mwjj-7mqx", "asyncio.unix_events", "_UnixSubprocessTransport._start",
     (None, "SHELL", True, None, None, None, 0)),
    ("GHSA-m273-6v24-x4m4", "distutils.file_util", "write_file", ("PATH", ["x"])),
    ("GHSA-4675-36f9-wf6r", "ctypes", "CDLL", (None,)),
    ("GHSA-vqmv-47xg-9wpr", "pty", "spawn", (["touch", "PATH"],)),
    ("GHSA-r8g5-cgf2-4m4m", "numpy.f2py.crackfortran", "getlincoef", ("PY", {})),
    ("GHSA-vvpj-8cmc-gx39", "pkgutil", "resolve_name", ("os:system",)),
    ("GHSA-g38g-8gr9-h9xp-uuid", "uuid", "_get_command_stdout", ("touch", "PATH")),
    ("GHSA-g38g-8gr9-h9xp-osx-support", "_osx_support", "_read_output", ("SHELL",)),
    ("GHSA-g38g-8gr9-h9xp-aix-support", "_aix_support", "_read_cmd_output", ("SHELL",)),
    ("GHSA-g38g-8gr9-h9xp-imaplib", "imaplib", "IMAP4_stream", ("SHELL",)),
    ("GHSA-g38g-8gr9-h9xp-pyrepl-pager", "_pyrepl.pager", "pipe_pager", ("x", "SHELL")),
    ("GHSA-g38g-8gr9-h9xp-test", "test.support.script_helper", "assert_python_ok",
     ("-c", "PY")),
    ("io_FileIO", "_io", "FileIO", ("PATH", "w")),
    ("urllib_request_urlopen", "urllib.request", "urlopen", ("http://127.0.0.1:9",)),
    ("logging_FileHandler", "logging", "FileHandler", ("PATH",)),
    ("types_CodeType", "types", "CodeType", (0, 0, 0, 0, 0, 0, b"", (), (), (), "", "", "", 0,
                                             b"", b"", (), ())),
    ("dns_exfiltration", "ssl", "get_server_certificate", (("127.0.0.1", 9),)),
])
_calls(PICKLESCAN, [("malicious1_v0", "__builtin__", "eval", ("PY",)),
                    ("malicious2_v0", "posix", "system", ("SHELL",))], proto=0)
_calls(PICKLESCAN, [("malicious1_v3", "builtins", "eval", ("PY",)),
                    ("malicious2_v3", "posix", "system", ("SHELL",))], proto=3)


def _sour_pickle(m: Path) -> bytes:
    """malicious0.pkl: Slaviero's 'Sour Pickles' (Black Hat 2011) chain of globals/compile/
    eval/getattr/apply, rewritten to create the marker."""
    code = py_touch(m).replace("'", '"')
    return (b"c__builtin__\nglobals\n(tRp100\n0c__builtin__\ncompile\n(S'" + code.encode()
            + b"'\nS''\nS'exec'\ntRp101\n0c__builtin__\neval\n(g101\ng100\ntRp102\n0"
            b"c__builtin__\ngetattr\n(c__builtin__\ndict\nS'get'\ntRp103\n0c__builtin__\napply\n"
            b"(g103\n(g100\nS'x'\nltRp104\n0g104\n.")


def _inst_exec(m: Path) -> bytes:
    """malicious10.pkl: INST builds the call, no REDUCE."""
    return b"(S'" + py_touch(m).replace("'", '"').encode() + b"'\ni__builtin__\nexec\n."


def _memo_stack_global(m: Path, trailing: bytes = b"") -> bytes:
    """malicious11.pkl (imaginaryctf 'Safe Pickle', picklescan issue 22): STACK_GLOBAL's names
    fetched from the memo, with decoy torch names memoized beside them."""
    return (b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(V"
            + touch(m).encode() + b"\ntR." + trailing)


def _keyerror(m: Path) -> bytes:
    """keyerror-exploit.pkl: the payload runs, then a memo miss stops naive walkers."""
    return (b"\x80\x04cos\nsystem\nV" + touch(m).encode() + b"\n\x85R0\x8c\x02os\x94h\x03h\x00"
            b"\x93K\x42.")


def _type_confusion(m: Path) -> bytes:
    """type-confusion-exploit.pkl: STACK_GLOBAL from an int and a str after the payload."""
    return (b"\x80\x04cos\nsystem\nV" + touch(m).encode() + b"\n\x85R0J\x2a\x00\x00\x00\x94"
            b"\x8c\x02os\x94h\x00h\x01\x93K\x42.")


def _magic_bypass(m: Path) -> bytes:
    """pytorch_magic_bypass.pt: a legacy file whose magic number comes from eval."""
    return (call("__builtin__", "eval", "0x1950A86A20F9469CFC6C", proto=2)
            + pickle.dumps(1001, protocol=2) + pickle.dumps({}, protocol=2)
            + pickle.dumps([], protocol=2) + call("posix", "system", touch(m), proto=2)
            + pickle.dumps(None, protocol=2))


def _cloudpickle(m: Path) -> bytes:
    """cloudpickle_codeinjection.pkl: cloudpickle rebuilds a function from a code object."""
    return (b"\x80\x04" + glob("cloudpickle.cloudpickle", "_make_function", 4)
            + enc((None, {}, None, None, None), 4) + b"R"
            + glob("cloudpickle.cloudpickle", "subimport", 4) + enc(("os",), 4) + b"R0.")


def _methodcaller(m: Path, module: str = "_operator", cls: str = "methodcaller") -> bytes:
    """GHSA-955r-x9j8-7rhh / GHSA-46h3-79wf-xr6c: methodcaller('system', cmd) or
    attrgetter('system') applied to __import__('os')."""
    imp = glob("builtins", "__import__", 4) + enc(("os",), 4) + b"R"
    if cls == "methodcaller":
        return (b"\x80\x04" + glob(module, cls, 4) + enc(("system", touch(m)), 4) + b"R("
                + imp + b"tR.")
    return (b"\x80\x04" + glob(module, cls, 4) + enc(("system",), 4) + b"R(" + imp + b"tR"
            + enc((touch(m),), 4) + b"R.")


def _pydoc_locate(m: Path) -> bytes:
    """GHSA-84r2-jw7c-4r5q: pydoc.locate('os.system') then call it."""
    return (b"\x80\x04" + glob("pydoc", "locate", 4) + enc(("os.system",), 4) + b"R"
            + enc((touch(m),), 4) + b"R.")


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _set_flag(data: bytes, member: str, bit: int) -> bytes:
    """Set a general-purpose flag bit on a member, in its local header and central entry."""
    raw = bytearray(data)
    z = zipfile.ZipFile(io.BytesIO(data))
    info = z.getinfo(member)
    off = info.header_offset
    (flags,) = struct.unpack("<H", raw[off + 6:off + 8])
    raw[off + 6:off + 8] = struct.pack("<H", flags | bit)
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) >= 0:
        (n,) = struct.unpack("<H", raw[pos + 28:pos + 30])
        if raw[pos + 46:pos + 46 + n] == member.encode():
            (flags,) = struct.unpack("<H", raw[pos + 8:pos + 10])
            raw[pos + 8:pos + 10] = struct.pack("<H", flags | bit)
        pos += 4
    return bytes(raw)


_add(
    Fixture("picklescan-malicious0-sour-pickles", PICKLESCAN, "malicious0", _sour_pickle),
    Fixture("picklescan-malicious10-inst", PICKLESCAN, "malicious10", _inst_exec, live=True),
    Fixture("picklescan-malicious11-memo-names", PICKLESCAN, "malicious11 (issue 22)",
            _memo_stack_global, live=True),
    Fixture("picklescan-malicious-invalid-bytes", PICKLESCAN, "malicious-invalid-bytes",
            lambda m: _memo_stack_global(m, b"\n\n\t\t"), live=True),
    Fixture("picklescan-keyerror-exploit", PICKLESCAN, "keyerror-exploit", _keyerror, live=True),
    Fixture("picklescan-type-confusion-exploit", PICKLESCAN, "type-confusion-exploit",
            _type_confusion, live=True),
    Fixture("picklescan-broken-model", PICKLESCAN, "broken_model",
            lambda m: b"cbuiltins\nexec\n(X>\n" + py_touch(m).encode() + b"tRX."),
    Fixture("picklescan-pytorch-magic-bypass", PICKLESCAN, "pytorch_magic_bypass", _magic_bypass,
            ext=".pt", runs_under="torch", live=True),
    Fixture("picklescan-cloudpickle-codeinjection", PICKLESCAN, "cloudpickle_codeinjection",
            _cloudpickle),
    Fixture("picklescan-GHSA-955r-x9j8-7rhh", PICKLESCAN, "GHSA-955r-x9j8-7rhh", _methodcaller,
            live=True),
    Fixture("picklescan-GHSA-46h3-79wf-xr6c", PICKLESCAN, "GHSA-46h3-79wf-xr6c",
            lambda m: _methodcaller(m, "_operator", "attrgetter"), live=True),
    Fixture("picklescan-GHSA-84r2-jw7c-4r5q", PICKLESCAN, "GHSA-84r2-jw7c-4r5q", _pydoc_locate,
            live=True),
    Fixture("picklescan-GHSA-jgw4-cr84-mqxg", PICKLESCAN, "GHSA-jgw4-cr84-mqxg",
            lambda m: call("asyncio.unix_events", "_UnixSubprocessTransport._start",
                           None, touch(m), True, None, None, None, 0), ext=".bin"),
    Fixture("picklescan-malicious1-zip", PICKLESCAN, "malicious1.zip",
            lambda m: _zip({"data.pkl": call("builtins", "eval", py_touch(m))}), ext=".zip"),
    Fixture("picklescan-malicious1-wrong-ext", PICKLESCAN, "malicious1_wrong_ext.zip",
            lambda m: _zip({"data.txt": call("builtins", "eval", py_touch(m))}), ext=".zip"),
    Fixture("picklescan-malicious1-central-directory", PICKLESCAN,
            "malicious1_central_directory.zip",
            lambda m: _zip({"data.pkl": call("builtins", "eval", py_touch(m))}).replace(
                b"data.pkl", b"datap.kl", 1), ext=".zip"),
    Fixture("picklescan-malicious1-crc", PICKLESCAN, "malicious1_crc.zip",
            lambda m: _zip({"data.pkl": call("builtins", "eval", "'x'" + " " * 8 + "or "
                                             + py_touch(m))}).replace(b"'x'", b"'y'", 1),
            ext=".zip"),
    *(Fixture(f"picklescan-malicious1-{bit:#x}", PICKLESCAN, f"malicious1_{bit:#x}.zip",
              lambda m, b=bit: _set_flag(_zip({"data.pkl": call("builtins", "eval",
                                                                  py_touch(m))}), "data.pkl", b),
              ext=".zip") for bit in (0x1, 0x20, 0x40)),
)


def _7z(members: dict[str, bytes]) -> bytes:
    import tempfile

    import py7zr

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.7z"
        with py7zr.SevenZipFile(out, "w") as z:
            for name, data in members.items():
                z.writestr(data, name)
        return out.read_bytes()


_add(Fixture("picklescan-malicious1-7z", PICKLESCAN, "malicious1.7z",
             lambda m: _7z({"data.pkl": call("builtins", "eval", py_touch(m))}), ext=".7z"))

# ---- fickling: test/test_bypasses.py ----------------------------------------------------------

FICKLING = "fickling"
_calls(FICKLING, [
    ("GHSA-r7v6-mfhq-g3m2", "pty", "spawn", (["touch", "PATH"],)),
    ("GHSA-wfq2-52f7-7qvj", "runpy", "run_path", ("PATH",)),
    ("GHSA-p523-jq9w-64x9", "cProfile", "run", ("PY",)),
    ("GHSA-q5qq-mvfm-j35x-multiprocessing", "multiprocessing.util", "spawnv_passfds",
     ("/usr/bin/touch", ["touch", "PATH"], ())),
    ("GHSA-m273-6v24-x4m4", "distutils.file_util", "write_file", ("PATH", ["x"])),
    ("io-fileio", "_io", "FileIO", ("PATH", "w")),
    ("io-open", "io", "open", ("PATH", "w")),
    ("GHSA-r8g5-cgf2-4m4m", "numpy.f2py.crackfortran", "getlincoef", ("PY", {})),
    ("GHSA-5hwf-rc88-82xm-uuid", "uuid", "_get_command_stdout", ("touch", "PATH")),
    ("GHSA-5hwf-rc88-82xm-aix", "_aix_support", "_read_cmd_output", ("SHELL",)),
    ("GHSA-5hwf-rc88-82xm-osx", "_osx_support", "_find_build_tool", ("x; " + "SHELL",)),
    ("GHSA-5j3x-jp52-966f", "pathlib", "os.system", ("SHELL",)),
    ("GHSA-6ggj-6f2q-f7mx-interpreters", "_interpreters", "create", ()),
    ("GHSA-6ggj-6f2q-f7mx-xxsub", "_xxsubinterpreters", "create", ()),
    ("unsafe-ml-torch-hub", "torch.hub", "load", ("PATH", "x")),
    ("unsafe-ml-torch-dynamo", "torch._dynamo", "dangerous", ()),
    ("unsafe-ml-torch-inductor", "torch._inductor", "dangerous", ()),
    ("unsafe-ml-torch-jit", "torch.jit", "dangerous", ()),
    ("unsafe-ml-torch-compile", "torch.compile", "dangerous", ()),
    ("unsafe-ml-numpy-f2py", "numpy.f2py", "dangerous", ()),
    ("unsafe-ml-numpy-distutils", "numpy.distutils", "dangerous", ()),
    ("unsafe-ml-torch-load", "torch", "load", ("PATH",)),
    ("unsafe-ml-torch-compile-fn", "torch", "compile", (None,)),
    ("unsafe-ml-load-from-bytes", "torch.storage", "_load_from_bytes", (b"\x80\x02N.",)),
    ("unsafe-ml-config-module", "torch.utils._config_module", "ConfigModule", ()),
    ("unsafe-ml-elastic", "torch.distributed.elastic.rendezvous.api", "basichandlers", ()),
    ("unsafe-ml-runstring", "numpy.testing._private.utils", "runstring", ("PY", {})),
    ("GHSA-f7qq-56ww-84cr", "asyncio.unix_events", "_UnixSubprocessTransport._start",
     (None, "SHELL", True, None, None, None, 0)),
    *((f"ssrf-{mod}", mod, cls, ("127.0.0.1", port)) for mod, cls, port in (
        ("smtplib", "SMTP", 25), ("imaplib", "IMAP4", 143), ("ftplib", "FTP", 21),
        ("poplib", "POP3", 110), ("telnetlib", "Telnet", 23), ("nntplib", "NNTP", 119))),
])


def _fickling_pty_obj(m: Path) -> bytes:
    """PR 108: MARK GLOBAL 'pty spawn' STRING OBJ."""
    return b"(cpty\nspawn\n(S'touch'\nS'" + str(m).encode() + b"'\nlo."


def _marshal_function(m: Path) -> bytes:
    """GHSA-565g-hwwr-4pp3: marshal.loads a code object, types.FunctionType makes it a function,
    REDUCE calls it."""
    import marshal

    code = marshal.dumps(compile(py_touch(m), "<pickle>", "exec"))
    return (b"\x80\x04" + glob("marshal", "loads", 4) + b"\x94" + enc((code,), 4) + b"R\x94"
            + glob("types", "FunctionType", 4) + b"\x94h\x01" + b"(cbuiltins\nglobals\n)R"
            + b"t" + b"R)R.")


def _getattr_import(m: Path, module: str, attr: str, *args: Any) -> bytes:
    """getattr(importlib.import_module(module), attr)(*args) and the like."""
    return (b"\x80\x04" + glob("builtins", "getattr", 4) + b"(" + glob("importlib",
                                                                    "import_module", 4)
            + enc((module,), 4) + b"R" + enc(attr, 4) + b"tR" + enc(args, 4) + b"R.")


def _ctypes_cdll(m: Path) -> bytes:
    """GHSA-5hvc-6wx8-mvv4: getattr(ctypes.CDLL(None), 'system')(cmd)."""
    return (b"\x80\x04" + glob("builtins", "getattr", 4) + b"(" + glob("ctypes", "CDLL", 4)
            + enc((None,), 4) + b"R" + enc("system", 4) + b"tR" + enc((touch(m).encode(),), 4)
            + b"R.")


def _code_runsource(m: Path) -> bytes:
    """GHSA-q5qq-mvfm-j35x: getattr(code.InteractiveInterpreter(), 'runsource')(src)."""
    return (b"\x80\x04" + glob("builtins", "getattr", 4) + b"(" + glob(
        "code", "InteractiveInterpreter", 4) + b")R" + enc("runsource", 4) + b"tR"
        + enc((py_touch(m),), 4) + b"R.")


def _builtins_import_getattr(m: Path) -> bytes:
    """GHSA-h4rm-mm56-xf63: protocol 0 __import__ then getattr, no REDUCE on os.system's name."""
    return (b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'"
            + touch(m).encode() + b"'\ntR.")


def _obj_pop(m: Path) -> bytes:
    """GHSA-mxhj-88fx-4pcv: OBJ's call discarded by POP: the result is None, the call ran."""
    return b"\x80\x04(" + glob("smtplib", "SMTP", 4) + enc("127.0.0.1", 4) + b"o0N."


def _frame_divergence(m: Path) -> bytes:
    """cpython issue 154848 (fickling test_frame_boundary_divergence): BINBYTES claims more
    bytes than its FRAME holds; CPython reads past the frame and runs the buried call."""
    hidden = b"cos\nsystem\nV" + touch(m).encode() + b"\n\x85R"
    return (b"\x80\x05NV" + b"a" * (8192 * 16 - 17) + b"\n0(\x95" + struct.pack("<Q", 2)
            + b"B\x07\x01\x00\x00\x00\x00" + (hidden + b"(").ljust(256 + 5, b"N") + b"1.")


def _frame_straddle(body: bytes, declared: int) -> Callable[[Path], bytes]:
    return lambda m: b"\x80\x05\x95" + struct.pack("<Q", declared) + body + b"."


_add(
    Fixture("fickling-pr108-pty-obj", FICKLING, "pull 108", _fickling_pty_obj, live=True),
    Fixture("fickling-GHSA-565g-hwwr-4pp3-marshal-types", FICKLING, "GHSA-565g-hwwr-4pp3",
            _marshal_function),
    Fixture("fickling-GHSA-5hvc-6wx8-mvv4-ctypes", FICKLING, "GHSA-5hvc-6wx8-mvv4", _ctypes_cdll,
            live=True),
    Fixture("fickling-GHSA-5hvc-6wx8-mvv4-pydoc-locate", FICKLING, "GHSA-5hvc-6wx8-mvv4",
            _pydoc_locate, live=True),
    Fixture("fickling-GHSA-q5qq-mvfm-j35x-importlib", FICKLING, "GHSA-q5qq-mvfm-j35x",
            lambda m: _getattr_import(m, "os", "system", touch(m)), live=True),
    Fixture("fickling-GHSA-q5qq-mvfm-j35x-code", FICKLING, "GHSA-q5qq-mvfm-j35x",
            _code_runsource, live=True),
    Fixture("fickling-GHSA-h4rm-mm56-xf63", FICKLING, "GHSA-h4rm-mm56-xf63",
            _builtins_import_getattr, live=True),
    Fixture("fickling-GHSA-955r-x9j8-7rhh-methodcaller", FICKLING, "test_operator_methodcaller",
            _methodcaller, live=True),
    Fixture("fickling-GHSA-mxhj-88fx-4pcv-obj-pop", FICKLING, "GHSA-mxhj-88fx-4pcv", _obj_pop),
    Fixture("fickling-unsafe-builtins-getattr", FICKLING, "test_unsafe_builtins_still_flagged",
            lambda m: b"cbuiltins\ngetattr\n(S'os'\nS'system'\ntR."),
    Fixture("fickling-unsafe-builtin-eval", FICKLING, "test_unsafe_builtin_eval_still_flagged",
            lambda m: b"cbuiltins\neval\n(S'" + py_touch(m).replace("'", '"').encode()
            + b"'\ntR.", live=True),
    Fixture("fickling-frame-boundary-divergence", FICKLING,
            "test_frame_boundary_divergence (cpython 154848)", _frame_divergence, live=True),
    *(Fixture(f"fickling-frame-straddle-{slug}", FICKLING,
              "test_frame_boundary_straddle_variants", _frame_straddle(body, n), flag="warning")
      for slug, body, n in (
          ("binbytes", b"B" + struct.pack("<I", 20) + b"A" * 20 + b"0N", 5),
          ("short-binunicode", b"\x8c\x14" + b"A" * 20 + b"0N", 3),
          ("global-module", b"cmacos\nsystem\n", 4),
          ("global-attr", b"cos\nsystem\n", 7),
          ("unicode", b"Vhello world\n", 5),
          ("binint", b"J" + struct.pack("<i", 7), 2),
          ("frame-in-frame", b"N\x95" + struct.pack("<Q", 2) + b"N", 30))),
)

# ---- modelaudit: SUSPICIOUS_GLOBALS entries beyond the two suites above -------------------------

MODELAUDIT = "modelaudit"
_calls(MODELAUDIT, [
    ("suspicious-globals", "codeop", "compile_command", ("PY",)),
    ("suspicious-globals", "compileall", "compile_dir", ("PATH",)),
    ("suspicious-globals", "py_compile", "compile", ("PATH",)),
    ("suspicious-globals", "_posixsubprocess", "fork_exec", ()),
    ("suspicious-globals", "importlib.util", "spec_from_file_location", ("x", "PATH")),
    ("suspicious-globals", "zipimport", "zipimporter", ("PATH",)),
    ("suspicious-globals", "shelve", "open", ("PATH",)),
    ("suspicious-globals", "sqlite3", "connect", ("PATH",)),
    ("suspicious-globals", "tarfile", "open", ("PATH",)),
    ("suspicious-globals", "dill._dill", "_create_code", ()),
    ("suspicious-globals", "joblib", "load", ("PATH",)),
    ("suspicious-globals", "xmlrpc.client", "ServerProxy", ("http://127.0.0.1:9",)),
    ("suspicious-globals", "socketserver", "TCPServer", (("127.0.0.1", 0), None)),
    ("suspicious-globals", "logging.config", "fileConfig", ("PATH",)),
    ("suspicious-globals", "mmap", "mmap", (-1, 1)),
    ("suspicious-globals", "platform", "popen", ("SHELL",)),
    ("suspicious-globals", "pexpect", "spawn", ("SHELL",)),
    ("suspicious-globals", "webbrowser", "open", ("http://127.0.0.1:9",)),
    ("suspicious-globals", "functools", "reduce", ()),
    ("suspicious-globals", "copyreg", "add_extension", ("os", "system", 241)),
    ("suspicious-globals", "faulthandler", "_sigsegv", ()),
    ("suspicious-globals", "resource", "setrlimit", (0, (0, 0))),
])

# ---- JFrog and Sonatype: the zip tricks ------------------------------------------------------

JFROG = "jfrog"
SONATYPE = "sonatype"


def _torch_zip(data_pkl: bytes, extra: dict[str, bytes] | None = None,
               root: str = "archive") -> bytes:
    """A torch zip checkpoint (as torch.save writes it: stored members, a version record) whose
    data.pkl is the given pickle."""
    members = {f"{root}/data.pkl": data_pkl, f"{root}/byteorder": b"little",
               f"{root}/version": b"3\n", f"{root}/.data/serialization_id": b"0" * 40}
    members.update(extra or {})
    return _zip(members)


def _rename_local(data: bytes, member: str, new: str) -> bytes:
    """The local header's name differs from the central directory's (same length)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    off = z.getinfo(member).header_offset
    raw = bytearray(data)
    (n,) = struct.unpack("<H", raw[off + 26:off + 28])
    assert len(new) == n
    raw[off + 30:off + 30 + n] = new.encode()
    return bytes(raw)


def _bad_crc(data: bytes, member: str) -> bytes:
    raw = bytearray(data)
    z = zipfile.ZipFile(io.BytesIO(data))
    off = z.getinfo(member).header_offset
    raw[off + 14:off + 18] = b"\x00\x00\x00\x00"
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) >= 0:
        (n,) = struct.unpack("<H", raw[pos + 28:pos + 30])
        if raw[pos + 46:pos + 46 + n] == member.encode():
            raw[pos + 16:pos + 20] = b"\x00\x00\x00\x00"
        pos += 4
    return bytes(raw)


def _payload(m: Path) -> bytes:
    return call("posix", "system", touch(m), proto=2)


_add(
    Fixture("jfrog-CVE-2025-10156-bad-crc", JFROG, "CVE-2025-10156 (CRC errors stop the scan)",
            lambda m: _bad_crc(_torch_zip(_payload(m)), "archive/data.pkl"), ext=".pt",
            runs_under="torch", live=True),
    Fixture("jfrog-CVE-2025-10155-pickle-named-bin", JFROG,
            "CVE-2025-10155 (a plain pickle under a torch extension)",
            lambda m: _payload(m), ext=".bin", runs_under="torch", live=True),
    Fixture("jfrog-CVE-2025-10157-asyncio-submodule", JFROG,
            "CVE-2025-10157 (a submodule of a blocked module)",
            lambda m: call("asyncio.unix_events", "_UnixSubprocessTransport._start", None,
                           touch(m), True, None, None, None, 0), ext=".bin"),
    Fixture("sonatype-CVE-2025-1944-local-name", SONATYPE,
            "CVE-2025-1944 (local header name differs from the central directory)",
            lambda m: _rename_local(_torch_zip(_payload(m)), "archive/data.pkl",
                                    "archive/data.xyz"), ext=".pt", runs_under="torch",
            live=True),
    *(Fixture(f"sonatype-CVE-2025-1945-flag-{bit:#x}", SONATYPE,
              "CVE-2025-1945 (zip flag bits make the scanner skip the member)",
              lambda m, b=bit: _set_flag(_torch_zip(_payload(m)), "archive/data.pkl", b),
              ext=".pt", runs_under="none") for bit in (0x1, 0x20, 0x40)),
    Fixture("sonatype-CVE-2025-1889-hidden-extension", SONATYPE,
            "CVE-2025-1889 (a pickle under a name the scanner does not read)",
            lambda m: _torch_zip(pickle.dumps({}, protocol=2),
                                 {"archive/extra/config.txt": _payload(m)}), ext=".pt"),
    Fixture("sonatype-CVE-2025-1716-pip-main", SONATYPE, "CVE-2025-1716 (pip.main)",
            lambda m: call("pip", "main", ["--version"])),
    Fixture("jfrog-weird-folder", JFROG, "data.pkl under an unusual folder name",
            lambda m: _torch_zip(_payload(m), root="weird.dir-0"), ext=".pt",
            runs_under="torch", live=True),
    Fixture("jfrog-root-data-pkl", JFROG, "data.pkl at the zip root (pickle.load of the member)",
            lambda m: _zip({"data.pkl": _payload(m), "version": b"3\n"}), ext=".pt"),
    Fixture("jfrog-storage-record-pickle", JFROG, "a pickle stored as a storage record data/0",
            lambda m: _torch_zip(pickle.dumps({}, protocol=2), {"archive/data/0": _payload(m)}),
            ext=".pt"),
    Fixture("jfrog-data-txt", JFROG, "a pickle stored as data.txt",
            lambda m: _torch_zip(pickle.dumps({}, protocol=2), {"archive/data.txt": _payload(m)}),
            ext=".pt"),
)

# ---- Hide-and-Seek: loading paths and exception-oriented payloads ---------------------------

HIDE = "hide-and-seek"


def _legacy(obj_pickle: bytes, sys_info: bytes | None = None) -> bytes:
    """A legacy (torch < 1.6) file: magic, protocol, sys_info, the object, the storage keys."""
    return (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + (sys_info or pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                         "type_sizes": {"short": 2, "int": 4, "long": 4}},
                                        protocol=2))
            + obj_pickle + pickle.dumps([], protocol=2))


def _error_after(m: Path) -> bytes:
    """The payload runs, then an opcode that does not exist stops the unpickler."""
    return head(2) + glob("posix", "system", 2) + enc((touch(m),), 2) + b"R0\xff."


def _concatenated(m: Path) -> bytes:
    """A benign pickle, then a second one that a loader reading the stream again would run."""
    return pickle.dumps({"a": 1}, protocol=2) + _payload(m)


_add(
    Fixture("hide-legacy-sys-info", HIDE, "legacy torch: the payload in sys_info",
            lambda m: _legacy(pickle.dumps({}, protocol=2), sys_info=_payload(m)), ext=".pt",
            runs_under="torch", live=True),
    Fixture("hide-legacy-object", HIDE, "legacy torch: the payload in the object pickle",
            lambda m: _legacy(_payload(m)), ext=".pt", runs_under="torch", live=True),
    Fixture("hide-exception-after-payload", HIDE, "exception-oriented: an error after the call",
            _error_after, live=True),
    Fixture("hide-concatenated", HIDE, "a second pickle after STOP", _concatenated),
    Fixture("hide-torch-zip-concatenated", HIDE, "a second pickle after data.pkl's STOP",
            lambda m: _torch_zip(_concatenated(m)), ext=".pt"),
    Fixture("hide-torch-load-nested", HIDE, "torch.load gadget (a nested loader)",
            lambda m: call("torch.serialization", "load", str(m))),
    Fixture("hide-load-from-bytes", HIDE, "torch.storage._load_from_bytes with a nested pickle",
            lambda m: call("torch.storage", "_load_from_bytes", _payload(m), proto=3)),
    Fixture("hide-pkgutil-resolve", HIDE, "pkgutil.resolve_name then call",
            lambda m: b"\x80\x04" + glob("pkgutil", "resolve_name", 4) + enc(("os:system",), 4)
            + b"R" + enc((touch(m),), 4) + b"R.", live=True),
    Fixture("hide-numpy-load-gadget", HIDE, "numpy.load(allow_pickle=True) as a gadget",
            lambda m: call("numpy.lib.npyio", "load", str(m), None, True)),
    Fixture("hide-remove-hook", HIDE, "a scanner's remove-hook called from the pickle",
            lambda m: call("fickling.hook", "remove_hook") + b""),
)

# ---- differential wrappings: the same payloads in every container ---------------------------

WRAPPED = {
    "os-system": lambda m: call("os", "system", touch(m), proto=2),
    "builtins-exec": lambda m: call("builtins", "exec", py_touch(m), proto=2),
    "getattr-import": lambda m: _getattr_import(m, "os", "system", touch(m)),
    "uuid-command": lambda m: call("uuid", "_get_command_stdout", "touch", str(m), proto=2),
    "subprocess-run": lambda m: call("subprocess", "run", ["touch", str(m)], proto=2),
    "runpy-run-code": lambda m: call("runpy", "_run_code", py_touch(m), {}, proto=2),
    "methodcaller": _methodcaller,
    "pkgutil-resolve": lambda m: b"\x80\x04" + glob("pkgutil", "resolve_name", 4)
    + enc(("os:system",), 4) + b"R" + enc((touch(m),), 4) + b"R.",
}


def _npy(pickled: bytes) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = header.ljust(118, b" ") + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + pickled


def _object_array_pickle(payload: bytes) -> bytes:
    """What np.save writes for an object array: a list holding the payload (its opcodes spliced
    in where the element goes)."""
    body = payload[2:-1] if payload[:1] == b"\x80" else payload[:-1]
    return b"\x80\x02]q\x00" + body + b"a."


def _tar(members: dict[str, bytes]) -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _torch_tar(storages: bytes, obj: bytes | None = None) -> bytes:
    """torch's oldest format: a tar of sys_info, storages (a count, each storage, then the views:
    several pickles in a row), tensors and pickle."""
    info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    return _tar({"sys_info": info, "storages": storages, "tensors": pickle.dumps(0, protocol=2),
                 "pickle": obj if obj is not None else pickle.dumps({}, protocol=2)})


_add(Fixture("fickling-legacy-tar-storages", FICKLING, "test_polyglot test_legacy_tar "
             "(torch's tar format: the payload in storages)", lambda m: _torch_tar(_payload(m)),
             ext=".tar", runs_under="torch", live=True))

WRAPPERS: dict[str, tuple[str, str, Callable[[bytes], bytes]]] = {
    "torch-zip": (".pt", "torch", lambda p: _torch_zip(p)),
    "legacy-torch": (".pt", "torch", lambda p: _legacy(p)),
    "torch-tar": (".tar", "torch", lambda p: _torch_tar(
        pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2), p)),
    "7z-torch-zip": (".7z", "none", lambda p: _7z({"model/pytorch_model.bin": _torch_zip(p)})),
    "npy-object": (".npy", "numpy", lambda p: _npy(_object_array_pickle(p))),
    "npz-member": (".npz", "numpy", lambda p: _zip({"arr_0.npy": _npy(_object_array_pickle(p))})),
}

for _pname, _pbuild in WRAPPED.items():
    for _wname, (_ext, _loader, _wrap) in WRAPPERS.items():
        _add(Fixture(f"wrap-{_wname}-{_pname}", "wrapping", f"{_pname} inside a {_wname}",
                     lambda m, b=_pbuild, w=_wrap: w(b(m)), ext=_ext, runs_under=_loader,
                     live=_loader in ("torch", "numpy")))

# ---- benign: what the suites themselves say must pass ------------------------------------------


def _benign(name: str, suite: str, source: str, build: Callable[[Path], bytes],
            ext: str = ".pkl") -> Fixture:
    return Fixture(name, suite, source, build, ext, malicious=False, runs_under="none")


def _np_bytes(save: Callable[[io.BytesIO], None]) -> bytes:
    out = io.BytesIO()
    save(out)
    return out.getvalue()


def _np_object_array() -> bytes:
    import numpy as np

    return _np_bytes(lambda f: np.save(f, np.array([{"a": 1}, [1, 2], "x", None, 1.5],
                                                     dtype=object), allow_pickle=True))


def _np_object_arrays_npz(compressed: bool) -> bytes:
    import numpy as np

    arrays = {"a": np.array(["x", 1, None], dtype=object), "b": np.array([(1, 2)],
                                                                         dtype=object)}
    save = np.savez_compressed if compressed else np.savez
    return _np_bytes(lambda f: save(f, **arrays))  # type: ignore[operator]


def _np_int_arrays() -> bytes:
    import numpy as np

    return _np_bytes(lambda f: np.savez(f, a=np.arange(6), b=np.ones((2, 2))))


def _torch_save(obj: Any) -> bytes:
    import torch

    out = io.BytesIO()
    torch.save(obj, out)
    return out.getvalue()


def _storage_like_a_pickle() -> bytes:
    """A real torch.save whose int8 storage starts with the bytes of PROTO 2 ('\\x80\\x02'),
    then opcode-looking noise: tensor data, not a pickle."""
    import torch

    values = [-128, 2, 99, 111, 115, 10, 40, 46, *range(-100, 100, 7)]
    return _torch_save({"w": torch.tensor(values, dtype=torch.int8)})


def _text_members() -> bytes:
    """A torch zip with text members whose first bytes are opcodes (c, (, S, I, N, V)."""
    base = zipfile.ZipFile(io.BytesIO(_torch_save({"w": __import__("torch").zeros(2)})))
    members = {i.filename: base.read(i) for i in base.infolist()}
    root = next(iter(members)).split("/", 1)[0]
    members.update({f"{root}/extra/notes.txt": b"config: bert\nnotes: fine-tuned\n",
                    f"{root}/extra/log.txt": b"(step 1) loss 0.5\nStep 2\n",
                    f"{root}/extra/readme.bin": b"Version 3\nNone of this is a pickle\n"})
    return _zip(members)


for _v in range(6):
    _add(_benign(f"picklescan-benign0-v{_v}", PICKLESCAN, "benign0",
                 lambda m, v=_v: pickle.dumps(["a", "b", "c"], protocol=v)))
_add(
    _benign("picklescan-object-array-npy", PICKLESCAN, "object_array.npy",
            lambda m: _np_object_array(), ".npy"),
    _benign("picklescan-int-array-npy", PICKLESCAN, "int_array.npy",
            lambda m: _np_bytes(lambda f: __import__("numpy").save(f, __import__("numpy")
                                                                   .arange(5))), ".npy"),
    _benign("picklescan-object-arrays-npz", PICKLESCAN, "object_arrays.npz",
            lambda m: _np_object_arrays_npz(False), ".npz"),
    _benign("picklescan-object-arrays-compressed-npz", PICKLESCAN,
            "object_arrays_compressed.npz", lambda m: _np_object_arrays_npz(True), ".npz"),
    _benign("picklescan-int-arrays-npz", PICKLESCAN, "int_arrays.npz",
            lambda m: _np_int_arrays(), ".npz"),
    _benign("numpy-record-array-with-objects", "numpy", "a structured dtype with an object field",
            lambda m: _np_bytes(lambda f: __import__("numpy").save(f, __import__("numpy").array(
                [(1, "x"), (2, None)], dtype=[("a", "i4"), ("b", "O")]), allow_pickle=True)),
            ".npy"),
    _benign("picklescan-malicious13-loads-int", PICKLESCAN, "pickle_files (benign half)",
            lambda m: pickle.dumps(12345, protocol=4)),
    _benign("whyload-storage-starting-like-a-pickle", "whyload", "tensor bytes that open "
            "with PROTO 2", lambda m: _storage_like_a_pickle(), ".bin"),
    _benign("whyload-text-members", "whyload", "text members whose first bytes are opcodes",
            lambda m: _text_members(), ".bin"),
    _benign("whyload-benign-torch-tar", "whyload", "torch's tar format holding plain data",
            lambda m: _torch_tar(pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2),
                                 pickle.dumps({"epoch": 1}, protocol=2)), ".tar"),
    _benign("fickling-safe-builtins-len", FICKLING, "test_safe_builtins_not_flagged",
            lambda m: b"cbuiltins\nlen\n."),
    _benign("fickling-safe-builtin-dict", FICKLING, "test_safe_builtin_dict_not_flagged",
            lambda m: b"cbuiltins\ndict\n)R."),
    _benign("fickling-codecs-encode", FICKLING, "test_private_stdlib_allowlist",
            lambda m: pickle.dumps(b"\x00\xff bytes", protocol=2)),
    _benign("fickling-future-annotations", FICKLING, "test_private_stdlib_allowlist",
            lambda m: b"\x80\x04" + glob("__future__", "annotations", 4) + b"."),
    *(_benign(f"fickling-well-formed-frames-{slug}-p{proto}", FICKLING,
              "test_well_formed_frames_are_not_flagged",
              lambda m, o=obj, p=proto: pickle.dumps(o, protocol=p))
      for slug, obj in (("small-list", [1, 2, 3, 4]), ("large-bytes", b"x" * 100000),
                        ("interleaved", [1, b"y" * 100000, 2]),
                        ("several-frames", list(range(200000))),
                        ("nested", {"a": [1, 2, {"b": (3, 4)}], "c": [5, 6]}))
      for proto in (2, 4, 5)),
)


# ---- writing ----------------------------------------------------------------------------------


def write_all(out: Path, fixtures: list[Fixture] | None = None) -> dict[str, dict[str, Any]]:
    """Write every fixture under out/<malicious|benign>/ and return the manifest: name -> file,
    suite, source, marker, loader, flag."""
    markers = out / "markers"
    markers.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    for fx in fixtures or FIXTURES:
        folder = out / ("malicious" if fx.malicious else "benign")
        folder.mkdir(exist_ok=True)
        path = folder / f"{fx.name}{fx.ext}"
        marker = markers / fx.name
        path.write_bytes(fx.build(marker))
        manifest[fx.name] = {"file": str(path), "suite": fx.suite, "source": fx.source,
                             "marker": str(marker), "runs_under": fx.runs_under,
                             "malicious": fx.malicious, "flag": fx.flag, "live": fx.live}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    written = write_all(Path(sys.argv[1]))
    bad = sum(1 for v in written.values() if v["malicious"])
    print(f"{bad} malicious, {len(written) - bad} benign fixtures in {sys.argv[1]}")
