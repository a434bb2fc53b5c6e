/** The smoke's output: one `PASS <step>` / `FAIL <step>: why` / `SKIP <step>: why` line per step, notes, a summary. */
export class Report {
  passed = 0;
  failed = 0;
  skipped = 0;
  /** After Ctrl-C the interrupted step's own failure is noise: only the interruption is reported. */
  private silenced = false;

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  pass(step: string, detail?: string): void {
    if (this.silenced) return;
    this.passed++;
    this.write(detail === undefined ? `PASS ${step}` : `PASS ${step} (${detail})`);
  }

  fail(step: string, why: string): void {
    if (this.silenced) return;
    this.failed++;
    const [first, ...rest] = why.split("\n");
    this.write(`FAIL ${step}: ${first}`);
    for (const line of rest) this.write(`     ${line}`);
  }

  skip(step: string, why: string): void {
    if (this.silenced) return;
    this.skipped++;
    this.write(`SKIP ${step}: ${why}`);
  }

  /** Something the reader should know that is neither a pass nor a failure (e.g. a fallback taken). */
  note(text: string): void {
    if (this.silenced) return;
    this.write(`NOTE ${text}`);
  }

  /** Always printed, also after silence. */
  say(text: string): void {
    this.write(text);
  }

  silence(): void {
    this.silenced = true;
  }

  get ok(): boolean {
    return this.failed === 0;
  }

  summary(title: string): string {
    const verdict = this.ok ? "OK" : "FAILED";
    return `${title}: ${verdict}: ${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped`;
  }
}
