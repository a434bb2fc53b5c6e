/**
 * The cap on unsent output across all connections. Each connection reports what it holds (its queue plus
 * the socket's write buffer); past the cap the connection holding the most is cut off, so a crowd of
 * clients that stopped reading cannot together hold more than the cap, whatever the per-connection limit.
 */

export interface BudgetHolder {
  readonly id: number;
  /** What it holds right now (its last report may be stale: sockets drain without telling). */
  pendingBytes(): number;
  /** Called when this holder is chosen to give its output up. */
  cutOff(reason: "total", total: number, limit: number): void;
}

export class OutputBudget {
  private readonly held = new Map<BudgetHolder, number>();
  private totalBytes = 0;
  private peakBytes = 0;

  constructor(readonly limit: number) {}

  get total(): number {
    return this.totalBytes;
  }

  /** The most the holders together were charged with since the start. */
  get peak(): number {
    return this.peakBytes;
  }

  /** Records what `holder` holds now; cuts off the largest holders while the total is over the limit. */
  set(holder: BudgetHolder, bytes: number): void {
    const before = this.held.get(holder) ?? 0;
    if (bytes === before) return;
    if (bytes === 0) this.held.delete(holder);
    else this.held.set(holder, bytes);
    this.totalBytes += bytes - before;
    if (this.totalBytes > this.limit) this.refresh();
    this.peakBytes = Math.max(this.peakBytes, Math.min(this.totalBytes, this.limit));
    while (this.totalBytes > this.limit) {
      const largest = this.largest();
      if (largest === undefined) return;
      const total = this.totalBytes;
      this.release(largest);
      largest.cutOff("total", total, this.limit);
    }
  }

  private refresh(): void {
    this.totalBytes = 0;
    for (const holder of [...this.held.keys()]) {
      const bytes = holder.pendingBytes();
      if (bytes === 0) this.held.delete(holder);
      else this.held.set(holder, bytes);
      this.totalBytes += bytes;
    }
  }

  release(holder: BudgetHolder): void {
    const bytes = this.held.get(holder);
    if (bytes === undefined) return;
    this.held.delete(holder);
    this.totalBytes -= bytes;
  }

  private largest(): BudgetHolder | undefined {
    let best: BudgetHolder | undefined;
    let bestBytes = -1;
    for (const [holder, bytes] of this.held) {
      if (bytes > bestBytes) {
        best = holder;
        bestBytes = bytes;
      }
    }
    return best;
  }
}
