/**
 * One LeaseBook per synchronous turn. The matrix composes every cell's load in one turn and asks for the
 * book once per cell; building it places every runtime, so 50 cells cost 50 × 50 placements. Within a turn
 * the runtimes and their specs cannot change (a reload or a start is another turn), and the book reads the
 * leases held live, so one book serves the whole compose.
 */
import type { LeaseBook } from "./candidates.js";

export class LeaseBookMemo {
  private book: LeaseBook | undefined;

  constructor(private readonly build: () => LeaseBook) {}

  get(): LeaseBook {
    if (this.book === undefined) {
      this.book = this.build();
      queueMicrotask(() => {
        this.book = undefined;
      });
    }
    return this.book;
  }
}
