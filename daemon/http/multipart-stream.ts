/**
 * multipart/form-data, parsed as it arrives: each chunk is scanned once for the boundary, parts are kept only
 * up to their caps (a file up to the whole upload's cap, any other field up to `maxFieldBytes`), so an
 * oversized or endless body is refused as soon as it crosses a limit, not after it was buffered. The parser
 * does no I/O: `push` chunks, then `end`; a violation throws MultipartError with a stable code.
 */

export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export type MultipartErrorCode =
  | "missing_boundary"
  | "malformed_multipart"
  | "field_too_large"
  | "upload_too_large"
  | "truncated_body";

export class MultipartError extends Error {
  constructor(
    readonly code: MultipartErrorCode,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

export interface MultipartLimits {
  /** The whole body. */
  maxBytes: number;
  /** Any part without a filename (model, language, prompt, …). */
  maxFieldBytes: number;
  /** One part's header block. */
  maxHeaderBytes?: number;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

/** The boundary of a `multipart/form-data` Content-Type; undefined when it is not one or has none. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

type State = "preamble" | "after_delimiter" | "headers" | "body" | "done";

export class MultipartParser {
  private readonly delimiter: Buffer;
  private pending: Buffer;
  private state: State = "preamble";
  private total = 0;
  private current: { part: Omit<FormPart, "data">; chunks: Buffer[]; size: number } | undefined;
  readonly parts: FormPart[] = [];

  constructor(
    boundary: string,
    private readonly limits: MultipartLimits,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, "latin1");
    // The first delimiter has no CRLF before it: lend it one, so every delimiter looks the same.
    this.pending = Buffer.from(CRLF);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.limits.maxBytes)
      throw new MultipartError(
        "upload_too_large",
        `the upload is larger than ${this.limits.maxBytes} bytes (http.max_upload)`,
        "file",
      );
    if (this.state === "done") return; // the epilogue is ignored
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.drain();
  }

  /** The body ended: the parts, or MultipartError `truncated_body` when the closing boundary never came. */
  end(): FormPart[] {
    if (this.state !== "done")
      throw new MultipartError(
        "truncated_body",
        `the multipart body ended before its closing boundary (after ${this.total} bytes, in ${this.where()})`,
      );
    return this.parts;
  }

  private where(): string {
    if (this.current !== undefined) return `part "${this.current.part.name}"`;
    return this.state === "preamble" ? "the preamble: no boundary line was found" : "a part's headers";
  }

  private drain(): void {
    for (;;) {
      switch (this.state) {
        case "preamble": {
          const at = this.pending.indexOf(this.delimiter);
          if (at < 0) {
            this.keepTail();
            return;
          }
          this.pending = this.pending.subarray(at + this.delimiter.length);
          this.state = "after_delimiter";
          break;
        }
        case "after_delimiter": {
          // `--` closes the body; otherwise optional transport padding, then CRLF.
          if (this.pending.length < 2) return;
          if (this.pending[0] === 0x2d && this.pending[1] === 0x2d) {
            this.state = "done";
            this.pending = Buffer.alloc(0);
            return;
          }
          const eol = this.pending.indexOf(CRLF);
          if (eol < 0) {
            if (this.pending.length > 256) throw this.malformed("a boundary line does not end");
            return;
          }
          if (!/^[ \t]*$/.test(this.pending.toString("latin1", 0, eol)))
            throw this.malformed("a boundary line is followed by text");
          this.pending = this.pending.subarray(eol + 2);
          this.state = "headers";
          break;
        }
        case "headers": {
          const max = this.limits.maxHeaderBytes ?? 16 * 1024;
          const at = this.pending.indexOf(HEADER_END);
          if (at < 0) {
            if (this.pending.length > max)
              throw new MultipartError("field_too_large", `a part's headers are larger than ${max} bytes`);
            return;
          }
          this.current = {
            part: this.partHeaders(this.pending.toString("utf8", 0, at)),
            chunks: [],
            size: 0,
          };
          this.pending = this.pending.subarray(at + HEADER_END.length);
          this.state = "body";
          break;
        }
        case "body": {
          const at = this.pending.indexOf(this.delimiter);
          if (at < 0) {
            const keep = Math.min(this.pending.length, this.delimiter.length - 1);
            this.append(this.pending.subarray(0, this.pending.length - keep));
            this.pending = this.pending.subarray(this.pending.length - keep);
            return;
          }
          this.append(this.pending.subarray(0, at));
          const c = this.current as NonNullable<typeof this.current>;
          this.parts.push({
            ...c.part,
            data: c.chunks.length === 1 ? (c.chunks[0] as Buffer) : Buffer.concat(c.chunks),
          });
          this.current = undefined;
          this.pending = this.pending.subarray(at + this.delimiter.length);
          this.state = "after_delimiter";
          break;
        }
        case "done":
          return;
      }
    }
  }

  /** Keeps only what could still be the start of a delimiter. */
  private keepTail(): void {
    const keep = Math.min(this.pending.length, this.delimiter.length - 1);
    this.pending = this.pending.subarray(this.pending.length - keep);
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const c = this.current as NonNullable<typeof this.current>;
    c.size += bytes.length;
    if (c.part.filename === undefined && c.size > this.limits.maxFieldBytes)
      throw new MultipartError(
        "field_too_large",
        `form field '${c.part.name.slice(0, 64)}' is larger than ${this.limits.maxFieldBytes} bytes`,
        c.part.name.slice(0, 64),
      );
    // A subarray of `pending` would pin the whole chunk: copy what is kept.
    c.chunks.push(Buffer.from(bytes));
  }

  private partHeaders(block: string): Omit<FormPart, "data"> {
    let name: string | undefined;
    let filename: string | undefined;
    let contentType: string | undefined;
    for (const line of block.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) throw this.malformed(`a part header has no colon: "${line.slice(0, 80)}"`);
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === "content-type") contentType = value;
      if (key !== "content-disposition") continue;
      if (!/^form-data\s*(;|$)/i.test(value))
        throw this.malformed(`a part's Content-Disposition is not form-data: "${value.slice(0, 80)}"`);
      name = paramOf(value, "name");
      filename = paramOf(value, "filename");
    }
    if (name === undefined) throw this.malformed("a part has no Content-Disposition name");
    return {
      name,
      ...(filename !== undefined ? { filename } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    };
  }

  private malformed(what: string): MultipartError {
    return new MultipartError("malformed_multipart", `malformed multipart body: ${what}`);
  }
}

/** A Content-Disposition parameter, quoted (with backslash escapes) or bare. */
function paramOf(value: string, key: string): string | undefined {
  const re = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i");
  const m = re.exec(value);
  if (m === null) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
}
