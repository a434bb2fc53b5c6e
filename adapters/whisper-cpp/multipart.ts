/** multipart/form-data bodies, as whisper-server's `/inference` and `/load` read them (cpp-httplib). */
import { randomHex } from "../../base/entropy.js";

export type FormField =
  | { name: string; value: string }
  | { name: string; filename: string; data: Buffer; contentType?: string };

export interface FormBody {
  body: Buffer;
  contentType: string;
}

function quoted(text: string): string {
  return text.replace(/["\r\n\\]/g, "_");
}

export function buildMultipart(fields: readonly FormField[]): FormBody {
  const boundary = `----rmxd${randomHex(12)}`;
  const parts: Buffer[] = [];
  for (const field of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(field.name)}"`;
    if ("data" in field) {
      head += `; filename="${quoted(field.filename)}"\r\nContent-Type: ${field.contentType ?? "application/octet-stream"}`;
    }
    parts.push(Buffer.from(`${head}\r\n\r\n`, "utf8"));
    parts.push("data" in field ? field.data : Buffer.from(field.value, "utf8"));
    parts.push(Buffer.from("\r\n", "utf8"));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, "utf8"));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface ParsedPart {
  name: string;
  filename?: string;
  data: Buffer;
}

/** Parses a multipart body; `undefined` when it is not one (whisper-server then answers 400 "Invalid request"). */
export function parseMultipart(body: Buffer, contentType: string | undefined): ParsedPart[] | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const mark = boundary?.[1] ?? boundary?.[2];
  if (!/^multipart\/form-data/i.test(contentType ?? "") || mark === undefined) return undefined;
  const delimiter = Buffer.from(`--${mark}`, "utf8");
  const parts: ParsedPart[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (;;) {
    const start = at + delimiter.length;
    if (body.toString("utf8", start, start + 2) === "--") return parts;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return undefined;
    const raw = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = raw.indexOf("\r\n\r\n");
    if (split < 0) return undefined;
    const head = raw.toString("utf8", 0, split);
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) return undefined;
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), data: raw.subarray(split + 4) });
    at = next;
  }
}
