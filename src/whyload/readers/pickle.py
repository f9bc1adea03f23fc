"""Pickle streams disassembled, never loaded.

A small symbolic machine runs the opcodes that `pickletools.genops` yields. Globals stay names
(`Global`), calls stay records (`Call`), persistent ids stay tuples (`Persistent`): nothing is
imported and nothing is called, so a hostile pickle can do no more than waste the bounded work
this module allows (`Limits`). What can't be followed is kept as `Unknown`, and the parse keeps
what it built before it stopped.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple


@dataclass(frozen=True)
class Limits:
    max_opcodes: int = 20_000_000
    max_memo: int = 5_000_000
    max_stack: int = 1_000_000
    max_depth: int = 200  # nesting followed when interpreting the result
    max_stream_bytes: int = 1 << 30
    max_nesting: int = 3  # pickles inside pickles (bytes handed to pickle.loads) followed
    max_calls: int = 100_000  # call sites recorded


DEFAULT_LIMITS = Limits()
PICKLE_CARRIERS = (bytes, bytearray, str)  # argument types a nested pickle can arrive in


@dataclass(frozen=True)
class Global:
    module: str
    name: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class Call:
    """`func(*args)` as the pickle asks for it (REDUCE, NEWOBJ, INST, OBJ); BUILD adds state."""

    func: Any
    args: tuple[Any, ...]
    state: Any = None
    kwargs: dict[str, Any] | None = None
    items: dict[Any, Any] = field(default_factory=dict)  # SETITEM(S) on a call's result
    appended: list[Any] = field(default_factory=list)  # APPEND(S) on a call's result


class CallSite(NamedTuple):
    """One call the pickle makes on load: what it calls (a dotted name, resolved through getattr
    and __import__ chains; `<dynamic>` when it can't be), with which arguments, by which opcode,
    and how deep in nested pickles. A tuple: a checkpoint makes one per tensor."""

    target: str
    args: tuple[Any, ...]
    opcode: str
    depth: int = 0


@dataclass(frozen=True)
class Persistent:
    pid: Any


@dataclass(frozen=True)
class Unknown:
    why: str


class _Mark:
    pass


MARK = _Mark()


@dataclass
class PickleStream:
    """The result of one pickle stream: its value, every global it names, and where it stopped."""

    value: Any = None
    globals: list[Global] = field(default_factory=list)
    opcodes: int = 0
    opcode_names: set[str] = field(default_factory=set)
    error: str | None = None  # why the walk stopped early, None when STOP was reached
    truncated: bool = False  # it stopped because the bytes ran out, not because they are wrong
    end: int = 0  # offset just after STOP (or where it stopped)
    protocol: int | None = None
    calls: list[CallSite] = field(default_factory=list)  # every call, in order (bounded)
    nested: int = 0  # pickles found inside this one's call arguments and walked too
    frame_violation: str | None = None  # an opcode crossing its FRAME's declared end


def walk_pickle(f: IO[bytes], limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> PickleStream:
    """Run one pickle stream from the current position of `f` symbolically. Bytes that are
    themselves a pickle, passed to a call, are walked too (up to `limits.max_nesting` deep):
    their globals and calls join this stream's, at `depth + 1`."""
    result = PickleStream()
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    start = f.tell()
    seen_globals: set[Global] = set()

    def pop_mark() -> list[Any]:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is MARK:
                items = stack[i + 1 :]
                del stack[i:]
                return items
        raise _Broken("MARK expected on the stack")

    def pop() -> Any:
        if not stack:
            raise _Broken("pop from an empty stack")
        v = stack.pop()
        if v is MARK:
            raise _Broken("unexpected MARK")
        return v

    def add_global(g: Global) -> Global:
        if g not in seen_globals:
            seen_globals.add(g)
            result.globals.append(g)
        return g

    def add_call(func: Any, args: tuple[Any, ...], opcode: str) -> Call:
        if len(result.calls) < limits.max_calls:
            target = func.dotted if type(func) is Global else callable_name(func)
            result.calls.append(CallSite(target, args, opcode, depth))
        if depth < limits.max_nesting:
            for a in args:
                if type(a) in PICKLE_CARRIERS and _looks_like_pickle(a):
                    walk_nested(a)
        return Call(func, args)

    def walk_nested(data: bytes | bytearray | str) -> None:
        raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        inner = walk_pickle(io.BytesIO(raw), limits, depth + 1)
        if inner.error is not None and not inner.globals:
            return  # bytes that only start like a pickle
        result.nested += 1 + inner.nested
        for g in inner.globals:
            add_global(g)
        room = limits.max_calls - len(result.calls)
        result.calls.extend(inner.calls[:max(room, 0)])

    frame_end: int | None = None  # where the current FRAME says its bytes stop
    prev_pos: int | None = None

    def check_frame(pos: int | None, name: str) -> None:
        """CPython reads a FRAME's bytes as one block: an opcode that runs past the block's end,
        or a FRAME opened inside another, makes CPython read different opcodes than a
        sequential reader like pickletools (cpython issue 154848)."""
        if result.frame_violation is not None or pos is None or frame_end is None:
            return
        if prev_pos is not None and prev_pos < frame_end < pos:
            result.frame_violation = (f"the opcode at byte {prev_pos - start} runs past the end "
                                      f"of its FRAME (byte {frame_end - start})")
        elif name == "FRAME" and pos < frame_end:
            result.frame_violation = (f"a FRAME opens at byte {pos - start}, inside another "
                                      f"that ends at byte {frame_end - start}")

    try:
        for op, arg, pos in _genops(f):
            check_frame(pos, op.name)
            prev_pos = pos
            result.opcodes += 1
            if result.opcodes > limits.max_opcodes:
                raise _Broken(f"more than {limits.max_opcodes:,} opcodes")
            if pos is not None and pos - start > limits.max_stream_bytes:
                raise _Broken(f"stream longer than {limits.max_stream_bytes:,} bytes")
            if len(stack) > limits.max_stack:
                raise _Broken(f"stack deeper than {limits.max_stack:,}")
            name = op.name
            result.opcode_names.add(name)
            if name == "PROTO":
                result.protocol = arg
            elif name == "FRAME":
                if pos is not None and isinstance(arg, int):
                    frame_end = pos + 9 + arg
            elif name == "STOP":
                result.value = pop() if stack else Unknown("empty stack at STOP")
                result.end = f.tell()
                check_frame(result.end, name)
                return result
            elif name == "MARK":
                stack.append(MARK)
            elif name == "POP":
                if stack:
                    stack.pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else Unknown("DUP on empty stack"))
            elif name in ("NONE",):
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                          "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING",
                          "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
                          "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack.append(arg)
            elif name in ("EMPTY_DICT",):
                stack.append({})
            elif name in ("EMPTY_LIST",):
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_SET":
                stack.append(set())
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}[name]
                items = [pop() for _ in range(n)][::-1]
                stack.append(tuple(items))
            elif name == "TUPLE":
                stack.append(tuple(pop_mark()))
            elif name == "LIST":
                stack.append(pop_mark())
            elif name == "DICT":
                items = pop_mark()
                stack.append(_pairs_to_dict(items))
            elif name == "FROZENSET":
                stack.append(frozenset(_hashable(x) for x in pop_mark()))
            elif name == "APPEND":
                v = pop()
                _append(stack[-1] if stack else None, [v])
            elif name == "APPENDS":
                items = pop_mark()
                _append(stack[-1] if stack else None, items)
            elif name == "ADDITEMS":
                items = pop_mark()
                if stack and isinstance(stack[-1], set):
                    stack[-1].update(_hashable(x) for x in items)
            elif name == "SETITEM":
                v = pop()
                k = pop()
                _setitems(stack[-1] if stack else None, [k, v])
            elif name == "SETITEMS":
                items = pop_mark()
                _setitems(stack[-1] if stack else None, items)
            elif name in ("GLOBAL", "INST"):
                module, _, qual = str(arg).partition(" ")
                g = add_global(Global(module, qual))
                if name == "GLOBAL":
                    stack.append(g)
                else:
                    stack.append(add_call(g, tuple(pop_mark()), name))
            elif name == "STACK_GLOBAL":
                qual = pop()
                module = pop()
                if isinstance(module, str) and isinstance(qual, str):
                    stack.append(add_global(Global(module, qual)))
                else:  # names built at run time: treat as unknown, never guess
                    g = add_global(Global(_describe(module), _describe(qual)))
                    stack.append(g)
            elif name == "REDUCE":
                args = pop()
                func = pop()
                stack.append(add_call(func, args if isinstance(args, tuple) else (args,), name))
            elif name == "NEWOBJ":
                args = pop()
                cls = pop()
                stack.append(add_call(cls, args if isinstance(args, tuple) else (args,), name))
            elif name == "NEWOBJ_EX":
                kwargs = pop()
                args = pop()
                cls = pop()
                call = add_call(cls, args if isinstance(args, tuple) else (args,), name)
                call.kwargs = kwargs if isinstance(kwargs, dict) else None
                stack.append(call)
            elif name == "OBJ":
                items = pop_mark()
                if items:
                    stack.append(add_call(items[0], tuple(items[1:]), name))
                else:
                    stack.append(Unknown("OBJ with no class"))
            elif name == "BUILD":
                state = pop()
                target = stack[-1] if stack else None
                if isinstance(target, Call):
                    target.state = state
            elif name in ("PERSID", "BINPERSID"):
                pid = arg if name == "PERSID" else pop()
                stack.append(Persistent(pid))
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(Unknown(f"extension code {arg}"))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if len(memo) >= limits.max_memo:
                    raise _Broken(f"memo larger than {limits.max_memo:,}")
                memo[int(arg)] = stack[-1] if stack else None
            elif name == "MEMOIZE":
                if len(memo) >= limits.max_memo:
                    raise _Broken(f"memo larger than {limits.max_memo:,}")
                memo[len(memo)] = stack[-1] if stack else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                key = int(arg)
                stack.append(memo[key] if key in memo else Unknown(f"memo {key} unset"))
            elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                stack.append(Unknown("out-of-band buffer"))
            else:
                raise _Broken(f"unsupported opcode {name}")
    except _Broken as exc:
        result.error = str(exc)
    except (ValueError, EOFError, KeyError, IndexError, TypeError, OverflowError,
            UnicodeDecodeError, MemoryError, RecursionError) as exc:
        if _ran_out(exc):
            result.truncated = True
        else:
            result.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if result.error is None:
        result.truncated = True
        result.error = "the stream ends before STOP"
    result.end = f.tell()
    _settle_pending(stack)
    if stack:
        result.value = next((v for v in stack if v is not MARK), None)
    return result


def _ran_out(exc: BaseException) -> bool:
    """pickletools' own words for reaching the end of the bytes mid-stream."""
    text = str(exc)
    return isinstance(exc, EOFError) or "exhausted before seeing STOP" in text or (
        "not enough data" in text) or ("but only" in text and "remain" in text)


def _settle_pending(stack: list[Any]) -> None:
    """A stream cut inside a batch of SETITEMS/APPENDS: give the container below each open MARK
    the items already read, so what came before the cut is kept."""
    marks = [n for n, v in enumerate(stack) if v is MARK]  # one pass: a stream cut after a
    for i in reversed(marks):  # million open MARKs must not cost a million scans
        items = stack[i + 1 :]
        del stack[i:]
        target = stack[-1] if stack else None
        if isinstance(target, list):
            _append(target, items)
        else:
            _setitems(target, items[: len(items) - len(items) % 2])


MAX_STREAMS = 64  # pickles one after another in one file, walked before giving up


def walk_following(f: IO[bytes], size: int, limits: Limits = DEFAULT_LIMITS,
                   max_streams: int = MAX_STREAMS) -> list[tuple[int, PickleStream]]:
    """The pickles that follow the current position, one after another, to the end of the file
    (a loader that calls pickle.load again reads the next; torch's legacy format is five in a
    row). Each with its offset; trailing bytes that are not a pickle end the walk."""
    found: list[tuple[int, PickleStream]] = []
    while len(found) < max_streams:
        at = f.tell()
        if at >= size:
            break
        first = f.read(2)
        f.seek(at)
        if not first or first[:1] in b"\x00\t\n\r \x0b\x0c":
            break  # padding, as np.save and some writers leave it
        stream = walk_pickle(f, limits)
        if stream.opcodes == 0 or (stream.error is not None and not stream.globals):
            break
        if not plausible_stream(first, stream):
            break  # bytes that only parse as opcodes for a while (array data, text)
        found.append((at, stream))
        if stream.error is not None or f.tell() <= at:
            break
    return found


def plausible_stream(head: bytes, stream: PickleStream) -> bool:
    """Whether a stream found where no pickle is promised is one: it opens with PROTO 2-5, or
    it ends at STOP and names only importable-looking globals. Text or tensor bytes that happen
    to parse as a few opcodes fail both."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return stream.error is None and all(
        g.module.replace(".", "").isidentifier() and g.name.replace(".", "").isidentifier()
        for g in stream.globals)


def walk_pickle_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> PickleStream:
    return walk_pickle(io.BytesIO(data), limits)


class _Broken(Exception):
    pass


def _genops(f: IO[bytes]) -> Iterator[tuple[Any, Any, int | None]]:
    return pickletools.genops(f)


def _hashable(x: Any, limit: int = 64) -> Any:
    """x when it can be a dict key; hash() recurses in C, so nesting is measured first: a
    million-deep tuple would otherwise crash the interpreter."""
    todo, seen = [(x, 0)], 0
    while todo:
        item, depth = todo.pop()
        seen += 1
        if depth > limit or seen > 10_000:
            return Unknown("key nested too deeply")
        if isinstance(item, (tuple, frozenset)):
            todo.extend((child, depth + 1) for child in item)
        elif isinstance(item, Persistent):
            todo.append((item.pid, depth + 1))
        elif isinstance(item, (list, dict, set, bytearray, Call)):
            return Unknown(f"unhashable {type(item).__name__}")
    return x


def _pairs_to_dict(items: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for i in range(0, len(items) - 1, 2):
        out[_hashable(items[i])] = items[i + 1]
    return out


def _setitems(target: Any, items: list[Any]) -> None:
    pairs = _pairs_to_dict(items)
    if isinstance(target, dict):
        target.update(pairs)
    elif isinstance(target, Call):
        target.items.update(pairs)


def _append(target: Any, items: list[Any]) -> None:
    if isinstance(target, list):
        target.extend(items)
    elif isinstance(target, Call):
        target.appended.extend(items)


def callable_name(func: Any, depth: int = 0) -> str:
    """The dotted name a call reaches: a global; `getattr(x, "name")` as x's name + ".name";
    `__import__("os")` or `importlib.import_module("os")` as "os"; legacy torch's
    `('module', cls, file, source)` persistent id as cls. `<dynamic>` otherwise."""
    if depth > 16:
        return "<dynamic>"
    if isinstance(func, Global):
        return func.dotted
    pid = func.pid if isinstance(func, Persistent) else None
    if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module" and \
            isinstance(pid[1], Global):  # legacy torch: a module class, with its source beside
        return pid[1].dotted
    if isinstance(func, Call) and len(func.args) >= 1:
        inner = callable_name(func.func, depth + 1)
        if inner in ("builtins.getattr", "__builtin__.getattr") and len(func.args) >= 2 and \
                isinstance(func.args[1], str):
            return f"{callable_name(func.args[0], depth + 1)}.{func.args[1]}"
        if inner in ("builtins.__import__", "__builtin__.__import__",
                     "importlib.import_module") and isinstance(func.args[0], str):
            return func.args[0]
    return "<dynamic>"


def _looks_like_pickle(value: Any) -> bool:
    """Bytes (or latin-1 text) that open with a PROTO opcode for protocols 2-5."""
    if isinstance(value, (bytes, bytearray)):
        return len(value) >= 16 and value[0] == 0x80 and 2 <= value[1] <= 5
    if isinstance(value, str):
        return len(value) >= 16 and value[0] == "\x80" and "\x02" <= value[1] <= "\x05"
    return False


def _describe(v: Any) -> str:
    return v if isinstance(v, str) else f"<{type(v).__name__}>"
