// A restricted pickle machine. Python's pickle is a small stack language
// whose GLOBAL/REDUCE opcodes import and call anything, which is how a .pt
// file can run code. Here GLOBAL asks the caller for the name and gets back
// either a Callable (a function the caller wrote, e.g. "rebuild a tensor")
// or a refusal; nothing is ever looked up or executed beyond that.
import { FormatError } from "../errors.js";

/** What GLOBAL may resolve to: a function of REDUCE's argument tuple. */
export class Callable {
  constructor(
    readonly qualname: string,
    readonly call: (args: PickleValue[]) => PickleValue,
  ) {}
}

/** Non-callable marker objects a caller hands out for GLOBAL (storage types…). */
export class Marker {
  constructor(readonly qualname: string) {}
}

/** A pickled dict (kept as a Map: keys may be any hashable value). */
export type PickleDict = Map<PickleValue, PickleValue>;

export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | Callable
  | Marker
  | object;

export interface UnpickleHooks {
  /** Resolves GLOBAL module.name, or throws to refuse it. */
  findClass(module: string, name: string): Callable | Marker;
  /** Resolves BINPERSID's persistent id (torch: a storage reference). */
  persistentLoad(pid: PickleValue): PickleValue;
}

const MARK = Symbol("mark");
type Slot = PickleValue | typeof MARK;

/** Runs the pickle program in `bytes` and returns the value STOP leaves. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;

  const bad = (msg: string): never => {
    throw new FormatError(`load: pickle: ${msg} (at byte ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) bad(`truncated: needs ${n} more bytes`);
  };
  const u8 = () => {
    need(1);
    return bytes[pos++]!;
  };
  const fixed = <T>(n: number, read: (at: number) => T): T => {
    need(n);
    pos += n;
    return read(pos - n);
  };
  const u16 = () => fixed(2, (at) => view.getUint16(at, true));
  const u32 = () => fixed(4, (at) => view.getUint32(at, true));
  const i32 = () => fixed(4, (at) => view.getInt32(at, true));
  const u64 = () => {
    const lo = u32();
    const n = lo + u32() * 2 ** 32;
    return Number.isSafeInteger(n) ? n : bad("64-bit length too large");
  };
  const take = (n: number) => fixed(n, (at) => bytes.subarray(at, at + n));
  const text = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch {
      return bad("string is not valid UTF-8");
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) bad("GLOBAL name without a newline");
    const s = new TextDecoder().decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!))
      bad("stack underflow");
    const v = stack.pop()!;
    return v === MARK ? bad("unexpected MARK") : v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    return v === undefined || v === MARK ? bad("stack underflow") : v;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) bad("no MARK to pop to");
    return stack.splice(m!) as PickleValue[];
  };
  const push = (v: PickleValue) => stack.push(v);
  const dict = (v: PickleValue): PickleDict =>
    v instanceof Map ? v : bad("SETITEM on a value that is not a dict");
  const list = (v: PickleValue): PickleValue[] =>
    Array.isArray(v) ? v : bad("APPEND on a value that is not a list");
  const memoGet = (i: number) =>
    memo.has(i) ? memo.get(i)! : bad(`memo key ${i} was never stored`);

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) bad("unsupported pickle protocol");
        break;
      case 0x95: // FRAME: a length hint only
        take(8);
        break;
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length > 0)
          bad(`STOP with ${stack.length} values on the stack`);
        return pop();
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
        push([]);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x8a: {
        // LONG1: n-byte little-endian two's complement
        const n = u8();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
          bad(`integer ${v} is too large`);
        push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        push(fixed(8, (at) => view.getFloat64(at, false)));
        break;
      case 0x58: // BINUNICODE
        push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(text(u64()));
        break;
      case 0x42: // BINBYTES
        push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(take(u8()).slice());
        break;
      case 0x74: // TUPLE
        push(popMark());
        break;
      case 0x85: // TUPLE1
        push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push([pop(), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        list(top()).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        list(top()).push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        dict(top()).set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) bad("SETITEMS with an odd number of values");
        const d = dict(top());
        for (let i = 0; i < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        push(hooks.findClass(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          bad("STACK_GLOBAL needs two strings");
        push(hooks.findClass(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args)
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Callable)) bad("REDUCE on a value that is not an allowed callable");
        if (!Array.isArray(args)) bad("REDUCE arguments are not a tuple");
        push((fn as Callable).call(args as PickleValue[]));
        break;
      }
      case 0x62: {
        // BUILD: set an object's state. Only dicts get one here (OrderedDict's
        // attributes such as _metadata, module versions), which flint does not need.
        pop();
        if (!(top() instanceof Map)) bad("BUILD on a value that is not a dict");
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      default:
        bad(`unsupported opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
