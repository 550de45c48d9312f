/**
 * KV page allocator: a free list of page ids and one page table per request.
 *
 * It is owned by the scheduler actor and runs on its thread (every forward step needs page tables
 * synchronously; a cross-thread hop per allocation would cost more than the allocation). Invariant,
 * checked by `assertConsistent` in tests: free pages + pages held by tables = total, and no page is
 * in two places. The free list is a stack, so recently freed (cache-warm) pages are reused first.
 */
export class KvAllocator {
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly tables = new Map<string, number[]>();

  constructor(readonly totalPages: number, readonly pageSize: number) {
    this.free = new Int32Array(totalPages);
    // Push in reverse so the first allocations get pages 0, 1, 2, ...: adjacent pages keep runs long.
    for (let i = 0; i < totalPages; i++) this.free[i] = totalPages - 1 - i;
    this.freeCount = totalPages;
  }

  get freePages(): number {
    return this.freeCount;
  }

  get tableCount(): number {
    return this.tables.size;
  }

  pagesFor(tokens: number): number {
    return Math.ceil(tokens / this.pageSize);
  }

  /** Pages `owner` would need to add to cover `tokens` tokens. */
  missingPages(owner: string, tokens: number): number {
    return Math.max(0, this.pagesFor(tokens) - (this.tables.get(owner)?.length ?? 0));
  }

  /**
   * Grows `owner`'s table to cover `tokens` tokens. All or nothing: returns false (allocating
   * nothing) when too few pages are free.
   */
  ensure(owner: string, tokens: number): boolean {
    const need = this.missingPages(owner, tokens);
    if (need > this.freeCount) return false;
    let table = this.tables.get(owner);
    if (!table) {
      table = [];
      this.tables.set(owner, table);
    }
    for (let i = 0; i < need; i++) table.push(this.free[--this.freeCount]);
    return true;
  }

  table(owner: string): readonly number[] {
    return this.tables.get(owner) ?? [];
  }

  /** Returns every page of `owner` to the free list; a no-op for an unknown owner. */
  release(owner: string): void {
    const table = this.tables.get(owner);
    if (!table) return;
    for (let i = table.length - 1; i >= 0; i--) this.free[this.freeCount++] = table[i];
    this.tables.delete(owner);
  }

  assertConsistent(): void {
    const seen = new Uint8Array(this.totalPages);
    const mark = (p: number, where: string): void => {
      if (p < 0 || p >= this.totalPages || seen[p]) throw new Error(`KV allocator corrupt: page ${p} (${where})`);
      seen[p] = 1;
    };
    for (let i = 0; i < this.freeCount; i++) mark(this.free[i], 'free list');
    for (const [owner, table] of this.tables) for (const p of table) mark(p, owner);
    const held = [...this.tables.values()].reduce((n, t) => n + t.length, 0);
    if (held + this.freeCount !== this.totalPages) throw new Error('KV allocator corrupt: pages lost');
  }
}
