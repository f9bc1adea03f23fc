#!/usr/bin/env python3
"""Write src/whyload/knowledge/pickle_denylist.json: the globals a pickle may call that run code
or reach the system, each with what it does and where the entry comes from.

Sources, merged: whyload's own reviewed entries (below, with the advisory or suite that reported
each), and the other scanners' lists read from the installed packages —
picklescan's `_unsafe_globals`, modelaudit's `SUSPICIOUS_GLOBALS`, fickling's `UNSAFE_IMPORTS`
and `UnsafeImportsML`. A peer's entry that is data rather than a way to run code (an encoder, a
harmless builtin) is listed under `not_adopted` with the reason, so a reader sees every decision.

    python scripts/gen_pickle_denylist.py          # rewrite the JSON
    python scripts/gen_pickle_denylist.py --check  # exit 1 when the JSON is not current
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "whyload" / "knowledge" / "pickle_denylist.json"

PS = "picklescan"
MA = "modelaudit"
FK = "fickling"
WL = "whyload tests/test_security.py"

# module (and everything under it) -> (what calling into it does, sources)
MODULES: dict[str, tuple[str, list[str]]] = {
    "os": ("runs shell commands, reads and writes files, changes the environment", [WL]),
    "posix": ("runs shell commands, reads and writes files (os on Linux/macOS)", [WL]),
    "nt": ("runs shell commands, reads and writes files (os on Windows)", [WL]),
    "sys": ("changes the interpreter: modules, paths, exit", [WL]),
    "subprocess": ("starts processes", [WL]),
    "_posixsubprocess": ("starts processes (fork_exec)", []),
    "runpy": ("runs a Python module or file", ["fickling GHSA-wfq2-52f7-7qvj"]),
    "importlib": ("imports any module by name", ["fickling GHSA-q5qq-mvfm-j35x"]),
    "_frozen_importlib": ("imports any module by name", []),
    "_frozen_importlib_external": ("imports any module by name", []),
    "_imp": ("imports any module by name", []),
    "zipimport": ("imports code from a zip", []),
    "pty": ("spawns a shell", ["fickling GHSA-r7v6-mfhq-g3m2", "picklescan GHSA-vqmv-47xg-9wpr"]),
    "socket": ("opens network connections", []),
    "ssl": ("opens network connections (ssl.get_server_certificate: DNS exfiltration)",
            ["picklescan dns_exfiltration.npy"]),
    "socketserver": ("listens on the network", []),
    "select": ("waits on sockets and files", []),
    "selectors": ("waits on sockets and files", []),
    "webbrowser": ("opens URLs", []),
    "shutil": ("copies, moves and deletes files", []),
    "code": ("runs Python source interactively", ["picklescan GHSA-cj3c-v495-4xqh",
                                                  "fickling GHSA-q5qq-mvfm-j35x"]),
    "codeop": ("compiles Python source", []),
    "commands": ("runs shell commands (Python 2)", []),
    "ctypes": ("calls native code", ["picklescan GHSA-4675-36f9-wf6r",
                                     "fickling GHSA-5hvc-6wx8-mvv4"]),
    "_ctypes": ("calls native code", []),
    "multiprocessing": ("starts processes", ["fickling GHSA-q5qq-mvfm-j35x"]),
    "concurrent.futures": ("starts processes and threads that run callables", []),
    "marshal": ("loads code objects", ["fickling GHSA-565g-hwwr-4pp3"]),
    "pickle": ("unpickles a second, nested pickle", []),
    "_pickle": ("unpickles a second, nested pickle", []),
    "dill": ("unpickles a nested pickle that may hold code objects", []),
    "cloudpickle": ("rebuilds functions from code objects",
                    ["picklescan cloudpickle_codeinjection"]),
    "joblib": ("unpickles nested pickles", []),
    "shelve": ("opens a pickle database", []),
    "asyncio": ("starts processes and network connections",
                ["picklescan GHSA-q77w-mwjj-7mqx", "picklescan GHSA-jgw4-cr84-mqxg",
                 "fickling GHSA-f7qq-56ww-84cr", "JFrog CVE-2025-10157"]),
    "http": ("makes HTTP requests or serves them", []),
    "httplib": ("makes HTTP requests (Python 2)", ["picklescan malicious3"]),
    "urllib": ("downloads from URLs", ["picklescan urllib_request_urlopen"]),
    "urllib2": ("downloads from URLs (Python 2)", []),
    "requests": ("makes HTTP requests", ["picklescan malicious4"]),
    "httpx": ("makes HTTP requests", []),
    "aiohttp": ("makes HTTP requests", ["picklescan malicious5"]),
    "ftplib": ("opens FTP connections", ["fickling test_network_protocol_ssrf"]),
    "smtplib": ("sends mail", ["fickling test_network_protocol_ssrf",
                               "fickling GHSA-mxhj-88fx-4pcv"]),
    "imaplib": ("opens IMAP connections; IMAP4_stream runs a shell command",
                ["picklescan GHSA-g38g-8gr9-h9xp", "fickling test_network_protocol_ssrf"]),
    "poplib": ("opens POP3 connections", ["fickling test_network_protocol_ssrf"]),
    "nntplib": ("opens NNTP connections", ["fickling test_network_protocol_ssrf"]),
    "telnetlib": ("opens network connections", ["fickling test_network_protocol_ssrf"]),
    "xmlrpc": ("makes and serves remote calls", []),
    "tempfile": ("creates files", []),
    "io": ("opens files", ["fickling test_io_fileio"]),
    "_io": ("opens files", ["picklescan io_FileIO"]),
    "operator": ("calls any attribute or method of an object (attrgetter, methodcaller)",
                 ["picklescan GHSA-84r2-jw7c-4r5q"]),
    "_operator": ("calls any attribute or method of an object (attrgetter, methodcaller)",
                  ["picklescan GHSA-955r-x9j8-7rhh", "picklescan GHSA-46h3-79wf-xr6c"]),
    "functools": ("binds arguments to any callable for a later call", [WL]),
    "pip": ("installs packages", ["picklescan malicious16", "Sonatype CVE-2025-1716"]),
    "setuptools": ("runs build scripts", []),
    "bdb": ("runs code under a debugger", ["picklescan malicious15"]),
    "pdb": ("runs code under a debugger", []),
    "timeit": ("runs code strings", ["picklescan malicious21"]),
    "cProfile": ("runs code strings", ["picklescan GHSA-9w88-8rmg-7g2p",
                                       "picklescan GHSA-49gj-c84q-6qm9"]),
    "profile": ("runs code strings", ["picklescan GHSA-7wx9-6375-f5wh",
                                      "picklescan GHSA-x696-vm39-cp64"]),
    "trace": ("runs code strings", ["picklescan GHSA-5qwp-399c-mjwf",
                                    "picklescan GHSA-g344-hcph-8vgg"]),
    "venv": ("creates environments and runs pip", ["picklescan malicious20"]),
    "ensurepip": ("runs pip", ["picklescan GHSA-xp4f-hrf8-rxw7"]),
    "signal": ("changes signal handlers", []),
    "_signal": ("changes signal handlers", []),
    "threading": ("starts threads", []),
    "_thread": ("starts threads", []),
    "_interpreters": ("runs code in a subinterpreter", ["fickling GHSA-6ggj-6f2q-f7mx"]),
    "_xxsubinterpreters": ("runs code in a subinterpreter", ["fickling GHSA-6ggj-6f2q-f7mx"]),
    "pydoc": ("runs a shell command (pipepager) or imports any name (locate)",
              ["picklescan GHSA-84r2-jw7c-4r5q", "fickling GHSA-5hvc-6wx8-mvv4",
               "picklescan malicious18"]),
    "_pyrepl": ("runs a shell command (pager.pipe_pager)", ["picklescan GHSA-g38g-8gr9-h9xp"]),
    "doctest": ("runs code under a debugger (debug_script)", ["picklescan GHSA-fqq6-7vqf-w3fg"]),
    "idlelib": ("runs code (pyshell, run, autocomplete)", ["picklescan GHSA-m869-42cg-3xwr",
                                                         "picklescan GHSA-j343-8v2j-ff7w"]),
    "lib2to3": ("evaluates strings and unpickles (pgen, grammar)",
                ["picklescan GHSA-f54q-57x4-jg88", "picklescan GHSA-p9w7-82w4-7q8m"]),
    "distutils": ("runs commands and writes files", ["picklescan GHSA-m273-6v24-x4m4"]),
    "_osx_support": ("runs shell commands", ["picklescan GHSA-g38g-8gr9-h9xp",
                                             "fickling GHSA-5hwf-rc88-82xm"]),
    "_aix_support": ("runs shell commands (_read_cmd_output)",
                     ["picklescan GHSA-g38g-8gr9-h9xp", "fickling GHSA-5hwf-rc88-82xm"]),
    "test": ("runs Python subprocesses (test.support.script_helper)",
             ["picklescan GHSA-g38g-8gr9-h9xp"]),
    "unittest": ("runs test code and mocks", []),
    "tarfile": ("extracts files anywhere", []),
    "zipfile": ("extracts files", []),
    "compileall": ("compiles and writes .pyc files", []),
    "py_compile": ("compiles and writes .pyc files", []),
    "pexpect": ("spawns processes", []),
    "mmap": ("maps files and memory", []),
    "sqlite3": ("creates database files", []),
    "_sqlite3": ("creates database files", []),
    "fileinput": ("reads files", []),
    "glob": ("lists files", []),
    "filecmp": ("reads files", []),
    "linecache": ("reads files", []),
    "syslog": ("writes to the system log", []),
    "site": ("changes the import path and runs .pth files", []),
    "atexit": ("registers code to run at exit", []),
    "gc": ("reaches every live object", []),
    "inspect": ("reaches any object's internals", []),
    "faulthandler": ("crashes the interpreter on purpose", []),
    "resource": ("changes process limits", []),
    "torch.hub": ("downloads and runs code from GitHub", []),
    "torch._dynamo": ("compiles and runs code", ["picklescan GHSA-86cj-95qr-2p4f"]),
    "torch._inductor": ("compiles and runs code", ["picklescan malicious17"]),
    "torch.jit": ("loads and runs TorchScript", ["picklescan GHSA-vr7h-p6mm-wpmh"]),
    "torch.compile": ("compiles and runs code", []),
    "torch.serialization": ("loads a second pickle", ["Hide-and-Seek (torch.load gadget)"]),
    "torch.utils.collect_env": ("runs shell commands", ["picklescan GHSA-f745-w6jp-hpxx",
                                                        "picklescan GHSA-jhph-76pp-mggw"]),
    "torch.utils.bottleneck": ("runs scripts under the profiler",
                               ["picklescan GHSA-4r9r-ch6f-vxmx",
                                "picklescan GHSA-4whj-rm5r-c2v8"]),
    "torch.utils.cpp_extension": ("compiles and loads native code", []),
    "torch.utils._config_module": ("loads configuration by unpickling",
                                   ["picklescan GHSA-vv6j-3g6g-2pvj"]),
    "torch.utils.data.datapipes.utils.decoder": ("unpickles data (basichandlers)",
                                                 ["picklescan GHSA-h3qp-7fh3-f8h4"]),
    "torch.distributed.rpc": ("runs remote calls", []),
    "torch.distributed.run": ("launches processes", []),
    "torch.distributed.launch": ("launches processes", []),
    "torch.distributed.elastic": ("launches processes", []),
    "torch.fx": ("builds and runs code from text", ["picklescan GHSA-f4x7-rfwp-v3xw"]),
    "torch.package": ("imports code from a package", []),
    "numpy.testing": ("runs code strings (numpy.testing._private.utils.runstring)",
                      ["picklescan malicious22"]),
    "numpy.f2py": ("evaluates strings (crackfortran)", ["picklescan GHSA-r8g5-cgf2-4m4m"]),
    "numpy.distutils": ("runs commands", []),
    "numpy.lib.npyio": ("loads pickles (np.load with allow_pickle)",
                        ["Hide-and-Seek (numpy.load gadget)"]),
    "numpy.load": ("loads a pickle (allow_pickle)", []),
    "fickling": ("a scanner's own hooks: removing them turns the scanner off",
                 ["Hide-and-Seek (scanner remove-hook)"]),
    "picklescan": ("a scanner's own internals", []),
    "modelaudit": ("a scanner's own internals", []),
    "keras": ("loads models that run Lambda layers", []),
    "posixpath": ("path functions (os.path on Linux/macOS): reach the file system", []),
    "ntpath": ("path functions (os.path on Windows): reach the file system", []),
    "pandas.io.pickle": ("unpickles a file (read_pickle)", []),
}

# exact callables (and anything reached through them: a class's method) -> (what, sources)
NAMES: dict[str, tuple[str, list[str]]] = {
    "builtins.eval": ("evaluates a Python expression", [WL]),
    "builtins.exec": ("executes Python statements", [WL]),
    "builtins.compile": ("compiles Python source into a code object", []),
    "builtins.getattr": ("reaches any attribute, so any method of any object", []),
    "builtins.setattr": ("changes any attribute of any object", []),
    "builtins.delattr": ("deletes attributes", []),
    "builtins.__import__": ("imports any module by name", []),
    "builtins.open": ("opens a file for reading or writing", [WL]),
    "builtins.globals": ("reaches the module's globals", ["picklescan malicious0"]),
    "builtins.locals": ("reaches local variables", []),
    "builtins.vars": ("reaches an object's namespace", []),
    "builtins.input": ("reads from the terminal", []),
    "builtins.breakpoint": ("starts a debugger", []),
    "builtins.apply": ("calls any callable (Python 2)", ["picklescan malicious0"]),
    "builtins.execfile": ("executes a Python file (Python 2)", []),
    "builtins.reload": ("re-imports a module (Python 2)", []),
    "builtins.raw_input": ("reads from the terminal (Python 2)", []),
    "builtins.memoryview": ("exposes raw memory", []),
    "builtins.super": ("reaches parent-class methods", []),
    "builtins.type": ("builds new classes", []),
    "builtins.object": ("creates bare objects (with __reduce__ tricks, any call)", []),
    "builtins.print": ("writes to the terminal", []),
    "builtins.help": ("starts the interactive help", []),
    "builtins.exit": ("exits the interpreter", []),
    "builtins.quit": ("exits the interpreter", []),
    "builtins.map": ("calls a function over items (a call hidden inside an iterator)", []),
    "builtins.filter": ("calls a function over items (a call hidden inside an iterator)", []),
    "types.CodeType": ("builds a code object", ["picklescan types_CodeType"]),
    "types.FunctionType": ("makes a function of a code object",
                           ["fickling GHSA-565g-hwwr-4pp3"]),
    "types.LambdaType": ("makes a function of a code object", []),
    "types.MethodType": ("binds any function to any object", []),
    "types.ModuleType": ("builds a module", []),
    "types.new_class": ("builds a class", []),
    "torch.load": ("loads a second checkpoint (with weights_only=False, runs its pickle)",
                   ["picklescan malicious19", "fickling UnsafeImportsML"]),
    "torch.compile": ("compiles and runs code", ["fickling UnsafeImportsML"]),
    "torch.storage._load_from_bytes": ("unpickles the bytes it is given with torch.load",
                                       ["fickling UnsafeImportsML",
                                        "Hide-and-Seek (nested loader)"]),
    "torch._C._jit_script_compile": ("compiles TorchScript", []),
    "logging.FileHandler": ("creates files", ["picklescan logging_FileHandler"]),
    "logging.handlers": ("creates files, sockets and mail", []),
    "logging.config": ("configures logging from a file or socket (runs code in it)", []),
    "pkgutil.resolve_name": ("imports any name", ["picklescan GHSA-vvpj-8cmc-gx39"]),
    "pkgutil.get_importer": ("imports from any path", []),
    "pkgutil.walk_packages": ("imports packages", []),
    "uuid._get_command_stdout": ("runs a command", ["picklescan GHSA-g38g-8gr9-h9xp",
                                                    "fickling GHSA-5hwf-rc88-82xm"]),
    "uuid._popen": ("runs a command", []),
    "uuid._arp_getnode": ("runs a command", []),
    "uuid._ifconfig_getnode": ("runs a command", []),
    "uuid._ip_getnode": ("runs a command", []),
    "uuid._lanscan_getnode": ("runs a command", []),
    "uuid._netstat_getnode": ("runs a command", []),
    "uuid._find_mac_under_heading": ("runs a command", []),
    "uuid._find_mac_near_keyword": ("runs a command", []),
    "platform.popen": ("runs a shell command", []),
    "platform._syscmd_file": ("runs a command", []),
    "platform._syscmd_ver": ("runs a command", []),
    "copyreg.add_extension": ("changes how later pickles resolve names", []),
    "copyreg.remove_extension": ("changes how later pickles resolve names", []),
    "copyreg.pickle": ("changes how objects are pickled", []),
    "dill._dill": ("rebuilds code objects", []),
}

# peers' entries that are not ways to run code or reach the system, and why they stay out
NOT_ADOPTED = {
    "base64": "encodes and decodes bytes: obfuscation at most, nothing runs",
    "codecs": "encodes and decodes text; _codecs.encode is how protocol 2 pickles bytes",
    "builtins.dir": "lists attribute names, calls nothing",
    "builtins.dict": "builds a dict",
    "builtins": "a module-wide entry: builtins are judged one by one (len, dict, set are data)",
    "__builtin__": "a module-wide entry: builtins are judged one by one",
    "__builtins__": "a module-wide entry: builtins are judged one by one",
    "types": "a module-wide entry: types.SimpleNamespace is data; the code builders are listed",
    "logging": "a module-wide entry: loggers are data; FileHandler, handlers, config are listed",
    "platform": "a module-wide entry: platform.system() returns a name; popen is listed",
    "difflib": "compares sequences",
    "compile": "not a module (fickling lists builtins' names as modules)",
    "exec": "not a module (fickling lists builtins' names as modules)",
    "eval": "not a module (fickling lists builtins' names as modules)",
    "uuid": "a module-wide entry: uuid.UUID is data; the helpers that run commands are listed",
    "platform.system": "returns the OS name",
}


def peer_entries() -> dict[str, set[str]]:
    """dotted entry ('module' for a whole module, 'module.name' for one callable) -> peers."""
    found: dict[str, set[str]] = {}

    def add(entry: str, peer: str) -> None:
        found.setdefault(entry, set()).add(peer)

    from picklescan.scanner import _unsafe_globals

    for module, names in _unsafe_globals.items():
        if names == "*":
            add(module, PS)
        else:
            for n in ([names] if isinstance(names, str) else names):
                add(f"{module}.{n}", PS)
    from modelaudit.detectors.suspicious_symbols import SUSPICIOUS_GLOBALS

    for module, names in SUSPICIOUS_GLOBALS.items():
        if names == "*" or names == ["*"]:
            add(module, MA)
        else:
            for n in ([names] if isinstance(names, str) else names):
                add(f"{module}.{n}", MA)
    from fickling.analysis import UnsafeImportsML
    from fickling.fickle import UNSAFE_IMPORTS

    for module in UNSAFE_IMPORTS:
        add(module, FK)
    for module in UnsafeImportsML.UNSAFE_MODULES:
        add(module, FK)
    for module, names in UnsafeImportsML.UNSAFE_IMPORTS.items():
        for n in names:
            add(f"{module}.{n}", FK)
    return found


def _normal(entry: str) -> str:
    for alias in ("__builtin__.", "__builtins__."):
        if entry.startswith(alias):
            return "builtins." + entry[len(alias):]
    return entry


def covered(entry: str, modules: dict[str, dict[str, object]]) -> str | None:
    parts = entry.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in modules:
            return ".".join(parts[:i])
    return None


def build() -> dict[str, object]:
    versions = {p: importlib.metadata.version(p) for p in (PS, MA, FK)}
    modules = {m: {"what": w, "sources": list(s)} for m, (w, s) in MODULES.items()}
    names = {n: {"what": w, "sources": list(s)} for n, (w, s) in NAMES.items()}
    for raw, peers in sorted(peer_entries().items()):
        entry = _normal(raw)
        tags = [f"{p} {versions[p]}" for p in sorted(peers)]
        if raw in NOT_ADOPTED or entry in NOT_ADOPTED or entry.split(".")[0] in (
                "base64", "codecs"):
            continue
        if entry in modules:
            modules[entry]["sources"] += tags
        elif entry in names:
            names[entry]["sources"] += tags
        elif (prefix := covered(entry, modules)) is not None:
            modules[prefix]["sources"] += [f"{t} ({entry})" for t in tags]
        elif (prefix := covered(entry, names)) is not None:
            names[prefix]["sources"] += [f"{t} ({entry})" for t in tags]
        elif "." not in entry:  # a whole module a peer blocks and whyload had no entry for
            modules[entry] = {"what": "a module the other scanners block as running code or "
                              "reaching the system", "sources": tags}
        else:
            names[entry] = {"what": "a callable the other scanners block as running code or "
                            "reaching the system", "sources": tags}
    for table in (modules, names):
        for value in table.values():
            value["sources"] = sorted(set(value["sources"]) or {"whyload (reviewed)"})
    peers = sorted(peer_entries())
    return {
        "generated_by": "scripts/gen_pickle_denylist.py",
        "peers": versions,
        "modules": dict(sorted(modules.items())),
        "names": dict(sorted(names.items())),
        "not_adopted": {k: {"why": v, "listed_by": sorted(
            {t for p, ts in peer_entries().items() if p == k or p.startswith(f"{k}.")
             for t in ts})}
                        for k, v in sorted(NOT_ADOPTED.items())
                        if k in peers or any(p.startswith(f"{k}.") for p in peers)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1, sort_keys=False) + "\n"
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        print("current" if current == text else f"{OUT} is stale")
        return 0 if current == text else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
