/**
 * A minimal protobuf wire reader (no schema, no dependency): tags, varints, 64-bit, length-delimited and
 * 32-bit fields, over a byte source that may be a whole buffer or a file read on demand. Every error names
 * the file and the absolute byte offset where the encoding broke, as RmxError MODEL_INVALID.
 */
import { RmxError } from "../../base/errors.js";

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Bytes by absolute offset: `read` returns exactly `length` bytes or fewer at the end of the source. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
}

export function bufferSource(bytes: Buffer): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

export interface Field {
  field: number;
  wire: number;
  /** Offset of the tag. */
  at: number;
}

/** Reads the fields of one message, between `start` and `end` of the source. */
export class ProtoCursor {
  pos: number;

  constructor(
    private readonly src: ByteSource,
    private readonly file: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(at: number, what: string): never {
    throw new RmxError("MODEL_INVALID", `${this.file}: malformed ONNX protobuf at byte ${at}: ${what}`, {
      path: this.file,
      offset: at,
    });
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's tag; `undefined` at the end of the message. */
  next(): Field | undefined {
    if (this.done) return undefined;
    const at = this.pos;
    const tag = this.varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) this.fail(at, "field number 0");
    if (wire !== WIRE.varint && wire !== WIRE.fixed64 && wire !== WIRE.bytes && wire !== WIRE.fixed32)
      this.fail(at, `wire type ${wire} (groups and unknown types are not ONNX)`);
    return { field, wire, at };
  }

  private bytesAt(offset: number, length: number, what: string): Buffer {
    if (offset + length > this.end)
      this.fail(offset, `${what} of ${length} bytes runs past its end (${this.end})`);
    const b = this.src.read(offset, length);
    if (b.length < length) this.fail(offset, `truncated: ${what} needs ${length} bytes, the file ends`);
    return b;
  }

  /** An unsigned varint (up to 64 bits). */
  varint(): bigint {
    const at = this.pos;
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail(at, "truncated varint");
      const byte = this.bytesAt(this.pos, 1, "varint")[0] as number;
      this.pos++;
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, value);
    }
    return this.fail(at, "varint longer than 10 bytes");
  }

  /** An int64/int32 varint as a JS number (two's complement for negatives); fails past 2^53. */
  int(): number {
    const at = this.pos;
    const v = BigInt.asIntN(64, this.varint());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      this.fail(at, `integer ${v} is beyond 2^53`);
    return Number(v);
  }

  /** The length of a length-delimited field, checked against the message's end. */
  length(): number {
    const at = this.pos;
    const n = this.varint();
    if (n > BigInt(this.end - this.pos))
      this.fail(at, `length ${n} runs past the end of its message (${this.end - this.pos} bytes left)`);
    return Number(n);
  }

  /** A nested message: a cursor over its bytes; this one moves past it. */
  message(): ProtoCursor {
    const n = this.length();
    const sub = new ProtoCursor(this.src, this.file, this.pos, this.pos + n);
    this.pos += n;
    return sub;
  }

  bytes(): Buffer {
    const n = this.length();
    const b = this.bytesAt(this.pos, n, "bytes field");
    this.pos += n;
    return b;
  }

  string(): string {
    return this.bytes().toString("utf8");
  }

  /** Repeated int64: packed (one length-delimited run) or one varint. */
  ints(wire: number, into: number[]): void {
    if (wire === WIRE.varint) {
      into.push(this.int());
      return;
    }
    const run = this.message();
    while (!run.done) into.push(run.int());
  }

  /** Skips a field of this wire type, reading nothing of a length-delimited one (weights stay on disk). */
  skip(f: Field): number {
    switch (f.wire) {
      case WIRE.varint:
        this.varint();
        return 0;
      case WIRE.fixed64:
        this.bytesAt(this.pos, 8, "64-bit field");
        this.pos += 8;
        return 8;
      case WIRE.fixed32:
        this.bytesAt(this.pos, 4, "32-bit field");
        this.pos += 4;
        return 4;
      default: {
        const n = this.length();
        this.pos += n;
        return n;
      }
    }
  }

  /** Fails unless the field has the wire type the schema gives it. */
  expect(f: Field, wire: number, name: string): void {
    if (f.wire !== wire)
      this.fail(f.at, `${name} (field ${f.field}) has wire type ${f.wire}, expected ${wire}`);
  }
}
